"""A real quick bench run of both architectures, shared by the tests that read its folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_base_port, processes_on_ports

ARCHBENCH = [sys.executable, "-m", "archbench"]


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
    """Every load scenario, monolith and micro, one short repetition (the fault runs have their
    own tests: test_faults.py)."""
    results = tmp_path_factory.mktemp("results")
    port = free_base_port()
    scenarios = "capacity,steady,spike,ramp"
    flags = ("--arch", "monolith,micro", "--scenario", scenarios, "--duration", "2", "--label", "t")
    done = bench(results, port, *flags)
    assert done.returncode == 0, done.stderr
    assert not processes_on_ports({port + i for i in range(10)})
    return (results / "latest").resolve()


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
