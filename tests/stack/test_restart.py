"""The restart policy and per-service memory limits, on real stacks with real signals: a killed
service comes back with a new pid, a leak ends in a kill by its own memory limit, and nothing is
left behind."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from bench.run.injection import admin
from stack.budget import CGROUP_ROOT
from stack.runner import Stack, StackError
from stack.supervisor import Restart
from stack.topology import Budget, shares
from tests.conftest import free_base_port, processes_on_ports, request

RECORD = json.dumps(
    {
        "island": "Biscoe",
        "bill_length_mm": 47.5,
        "bill_depth_mm": 15.0,
        "flipper_length_mm": 218,
        "body_mass_g": 4950,
        "sex": "female",
    }
).encode()


def wait_for(what: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return what()


def ready_restart(stack: Stack, service: str, timeout_s: float = 20) -> Restart:
    def done() -> bool:
        return any(r.ready_unix for r in stack.restarts if r.service == service)

    assert wait_for(done, timeout_s), f"{service} did not come back within {timeout_s} s"
    return next(r for r in stack.restarts if r.service == service and r.ready_unix)


def test_a_killed_stage_comes_back_with_a_new_pid(tmp_path: Path, model_dir: Path) -> None:
    stack = Stack("micro", free_base_port(), log_dir=tmp_path, restart=True)
    with stack:
        # each service has its own memory limit: its share of the budget, as in compose
        for name, (_, limit) in shares("micro", Budget()).items():
            path = stack.confinement.memory_path(name) / "memory.limit_in_bytes"
            assert int(path.read_text()) == limit
            assert stack.pids()[name] in {
                int(p) for p in (path.parent / "cgroup.procs").read_text().split()
            }
        old = stack.pids()["score"]
        killed_at = time.time()
        os.killpg(old, signal.SIGKILL)
        restart = ready_restart(stack, "score")
        new = stack.pids()["score"]
        assert restart.old_pid == old and restart.new_pid == new != old
        assert restart.exit_code == -signal.SIGKILL and restart.killed_by_memory_limit is False
        assert 0 < restart.ready_unix - killed_at < 15  # type: ignore[operator]
        assert not psutil.pid_exists(old)
        assert psutil.Process(new).is_running()
        assert request(stack.url, "/predict", RECORD).status == 200
        stack.check_alive()  # a restarted service is not a lost one
        # a stack whose processes are all frozen (a hang) still stops, without restarts
        pids = list(stack.pids().values())
        for pid in pids:
            os.killpg(pid, signal.SIGSTOP)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10
    assert not any(psutil.pid_exists(p) for p in pids)
    assert len(stack.restarts) == 1
    assert not processes_on_ports({s.port for s in stack.services})


def test_a_leak_ends_in_a_kill_by_the_memory_limit(tmp_path: Path, model_dir: Path) -> None:
    # the monolith's limit is the whole budget: a small one fills quickly
    budget = Budget(memory_bytes=512 << 20)
    stack = Stack("monolith", free_base_port(), budget=budget, log_dir=tmp_path, restart=True)
    with stack:
        before = stack.confinement.memory_events("monolith")
        assert before is not None
        old = stack.pids()["monolith"]
        admin(stack, "monolith", "PUT", {"stage": "score", "leak_mib_per_s": 1024})
        restart = ready_restart(stack, "monolith")
        after = stack.confinement.memory_events("monolith")
        assert after is not None and after.oom_kills == before.oom_kills + 1
        assert restart.old_pid == old and restart.killed_by_memory_limit is True
        assert restart.exit_code == -signal.SIGKILL
        # the new process starts clean
        assert admin(stack, "monolith", "GET")["leaked_bytes"] == 0
        assert request(stack.url, "/predict", RECORD).status == 200
        cgroup = stack.confinement.memory_path("monolith")
    assert cgroup.is_relative_to(CGROUP_ROOT / "memory") and not cgroup.exists()


def test_without_the_policy_a_dead_service_stays_dead(tmp_path: Path, model_dir: Path) -> None:
    with Stack("monolith", free_base_port(), log_dir=tmp_path) as stack:
        pid = stack.pids()["monolith"]
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: stack.processes["monolith"].poll() is not None, 5)
        time.sleep(0.3)
        assert stack.pids()["monolith"] == pid and not stack.restarts
        with pytest.raises(StackError, match="service 'monolith' exited with code -9"):
            stack.check_alive()
