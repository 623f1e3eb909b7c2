"""`archbench up` and the runner: ready stacks in the budget, nothing left behind, clear errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from pipeline import bundle as bundles
from stack.budget import CGROUP_ROOT, generator_cpus, machine_cpus, sut_cpus
from stack.runner import Stack, StackError
from stack.topology import Budget, services
from tests.conftest import free_base_port, processes_on_ports, request

ARCHBENCH = [sys.executable, "-m", "archbench"]


def start_up(arch: str, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ARCHBENCH, "up", arch, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_line(proc: subprocess.Popen[str], text: str, timeout_s: float = 60) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return line
        if not line and proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"no line with {text!r}; stderr: {err}")


@pytest.mark.parametrize(
    ("arch", "sig"), [("micro", signal.SIGINT), ("micro-flask", signal.SIGTERM)]
)
def test_up_serves_then_stops_everything_on_a_signal(arch: str, sig: signal.Signals) -> None:
    port = free_base_port()
    proc = start_up(arch, port)
    line = wait_for_line(proc, "ready at")
    assert f"http://127.0.0.1:{port}" in line and "cgroup-v1" in line
    children = psutil.Process(proc.pid).children(recursive=True)
    # the Flask variant's gunicorn master has a worker: more processes than services
    assert len(children) >= len(services(arch))
    assert request(f"http://127.0.0.1:{port}", "/readyz", method="GET").status == 200
    proc.send_signal(sig)
    proc.communicate(timeout=10)
    assert proc.returncode == 0
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    assert not processes_on_ports({port + i for i in range(5)})


def test_a_failed_start_names_the_service_and_leaves_nothing(
    tmp_path: Path, model_dir: Path
) -> None:
    # A bundle whose model file was changed after it was made: its schema loads (so `up`
    # starts the stack), and the services that load the model refuse it and exit.
    bundle = tmp_path / "bundle"
    shutil.copytree(model_dir, bundle)
    with (bundle / bundles.PICKLE_FILE).open("ab") as f:
        f.write(b"tampered")
    port = free_base_port()
    proc = start_up("micro", port, {"ARCHBENCH_MODEL_DIR": str(bundle)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    first = err.splitlines()[0]
    assert first.startswith("archbench: service '") and "exited with code" in first, err
    assert "does not match its sha256" in err  # the service's log tail says why
    assert not processes_on_ports({port + i for i in range(5)})


def test_a_port_in_use_is_one_clear_line() -> None:
    port = free_base_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port + 3))
        busy.listen()
        proc = subprocess.run(
            [*ARCHBENCH, "up", "micro", "--port", str(port)], capture_output=True, text=True
        )
    assert proc.returncode == 1
    assert proc.stderr == f"archbench: port {port + 3} for service 'features' is already in use\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["up", "macro"],
            "invalid choice: 'macro' (choose from 'monolith', 'micro', 'micro-flask')",
        ),
        (["fly"], "invalid choice: 'fly'"),
        (["up", "micro", "--port", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_flags_get_one_line(argv: list[str], expected: str) -> None:
    proc = subprocess.run([*ARCHBENCH, *argv], capture_output=True, text=True)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and expected in proc.stderr


def test_every_process_of_a_stack_is_inside_the_budget(tmp_path: Path, model_dir: Path) -> None:
    budget = Budget()
    with Stack("micro", free_base_port(), log_dir=tmp_path) as stack:
        assert stack.applied is not None and stack.applied.mechanism == "cgroup-v1"
        relative = stack.applied.cgroup
        assert relative is not None
        procs = {
            int(p) for p in (CGROUP_ROOT / "cpu" / relative / "cgroup.procs").read_text().split()
        }
        assert set(stack.pids().values()) <= procs
        cpu = CGROUP_ROOT / "cpu" / relative
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == int(budget.cpus * 100_000)
        memory = CGROUP_ROOT / "memory" / relative / "memory.limit_in_bytes"
        assert int(memory.read_text()) == budget.memory_bytes
        cpuset = (CGROUP_ROOT / "cpuset" / relative / "cpuset.cpus").read_text().strip()
        assert cpuset == ",".join(map(str, sut_cpus(budget)))
        for pid in stack.pids().values():
            assert os.sched_getaffinity(pid) == set(sut_cpus(budget))
        assert (stack.confinement.cpu_usage_ns() or 0) > 0
        assert (stack.confinement.memory_bytes() or 0) > 50 << 20
    assert not (CGROUP_ROOT / "cpu" / relative).exists()


def test_the_split_ignores_the_callers_own_affinity(tmp_path: Path) -> None:
    """The harness pins itself to the generator's CPU first: stacks must still go to the SUT's."""
    online = tmp_path / "online"
    online.write_text("0-1\n")
    assert machine_cpus(online) == [0, 1]
    online.write_text("0,2-3\n")
    assert machine_cpus(online) == [0, 2, 3]
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, generator_cpus(Budget()))
        assert sut_cpus(Budget()) == [machine_cpus()[-1]]
    finally:
        os.sched_setaffinity(0, before)


def test_generator_and_system_under_test_never_share_a_cpu() -> None:
    budget = Budget()
    assert sut_cpus(budget, [0, 1]) == [1] and generator_cpus(budget, [0, 1]) == [0]
    assert sut_cpus(Budget(cpus=1.5), [0, 1, 2, 3]) == [2, 3]
    assert generator_cpus(Budget(cpus=1.5), [0, 1, 2, 3]) == [0, 1]
    # one CPU: nothing to separate, both get it (and the result will say so)
    assert sut_cpus(budget, [0]) == [0] and generator_cpus(budget, [0]) == [0]


def test_start_failure_raises_with_the_log(tmp_path: Path) -> None:
    stack = Stack(
        "monolith",
        free_base_port(),
        log_dir=tmp_path,
        settings={"model_dir": tmp_path / "none"},
    )
    with pytest.raises(StackError, match="service 'monolith' exited") as caught:
        stack.start()
    assert caught.value.log == tmp_path / "monolith.log"
    assert not stack.processes
