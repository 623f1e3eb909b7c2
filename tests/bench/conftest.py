"""Real quick bench runs of both architectures, each made once per session and shared by the
tests that read its folder: a bench run costs a minute or more on the shared 2-core machine, so a
test that can read what a run already measured does not start one of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.report.page import REPORT_HTML
from tests.bundles import Made, made
from tests.conftest import free_base_port, processes_on_ports

ARCHBENCH = [sys.executable, "-m", "archbench"]
# The default run: eleven stacks and three capacity searches, about 5 minutes on the shared 2-core
# machine; the first test to ask for it pays for it (pytest-timeout counts fixture set-up).
DEFAULT_RUN_TIMEOUT_S = 900


def bench(results: Path, port: int, *flags: str) -> subprocess.CompletedProcess[str]:
    """`archbench bench --quick` into `results` on free ports, with more flags."""
    return subprocess.run(
        [*ARCHBENCH, "bench", "--quick", "--results-dir", str(results), "--port", str(port)]
        + list(flags),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """Every load scenario, monolith and micro, one short repetition, and its report (the
    harness's, cost and report tests read it; the fault and update runs are the default run's)."""
    results = tmp_path_factory.mktemp("results")
    port = free_base_port()
    scenarios = "capacity,steady,spike,ramp"
    flags = ("--arch", "monolith,micro", "--scenario", scenarios, "--duration", "2", "--label", "t")
    done = bench(results, port, *flags)
    assert done.returncode == 0, done.stderr
    assert not processes_on_ports({port + i for i in range(10)})
    path = (results / "latest").resolve()
    assert f"report: {path / REPORT_HTML}" in done.stdout.splitlines()
    return path


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> tuple[Path, str]:
    """`archbench bench --quick` with no --scenario: the default scenarios, short; its folder and
    what it printed. Read by the default run's own tests, and by the fault and update tests: its
    crash of score and its four update runs are the runs those tests would otherwise start.

    The crash's tail is the everyday one's 3 s plus 5: time for the killed process to come back
    within the load, however busy the machine (the fault tests time the restart)."""
    results = tmp_path_factory.mktemp("results")
    # two replicas and two workers: a second block of ports (stack.topology.PORT_BLOCK)
    port = free_base_port(start=26000, span=20)
    flags = ["--quick", "--duration", "2", "--fault-tail-s", "8", "--label", "default"]
    done = subprocess.run(
        [*ARCHBENCH, "bench", *flags, "--port", str(port), "--results-dir", str(results)],
        capture_output=True,
        text=True,
        timeout=DEFAULT_RUN_TIMEOUT_S - 60,
    )
    assert done.returncode == 0, done.stderr
    assert not processes_on_ports({port + i for i in range(20)})
    return (results / "latest").resolve(), done.stdout


@pytest.fixture(scope="session")
def parts_dir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """The scaling part (two replicas, two workers) and the sweep (light model, batches of 1
    and 8) on both architectures, one short repetition."""
    results = tmp_path_factory.mktemp("results")
    # two replicas: a second block of ports (stack.topology.PORT_BLOCK)
    port = free_base_port(start=24000, span=20)
    flags = ["--arch", "monolith,micro", "--scenario", "scaling,sweep", "--duration", "2"]
    flags += ["--replicas", "2", "--models", "light", "--batches", "1,8", "--label", "parts"]
    done = bench(results, port, *flags)
    assert done.returncode == 0, done.stderr
    assert not processes_on_ports({port + i for i in range(20)})
    return (results / "latest").resolve()


# The bundle of the run on a model that is not the demo: the regressor, whose records and
# answers (a value, no label) look nothing like the demo's.
OWN_BUNDLE = "diabetes"


@pytest.fixture(scope="session")
def own_secured_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Made]:
    """A short steady run of both architectures on another bundle than the demo's, with the hops
    between micro's services secured (--secure-hops): two switches of what the stacks serve and
    how, each with its own tests (test_own_model.py, test_secure_bench.py), read from one run."""
    bundle = made(tmp_path_factory)[OWN_BUNDLE]
    results = tmp_path_factory.mktemp("results")
    port = free_base_port()
    flags = ("--arch", "monolith,micro", "--scenario", "steady", "--duration", "3")
    flags += ("--model", str(bundle.directory), "--secure-hops", "--label", "own")
    done = bench(results, port, *flags)
    assert done.returncode == 0, done.stderr
    assert not processes_on_ports({port + i for i in range(10)})
    return (results / "latest").resolve(), bundle
