"""Deploying a new version into a running local stack: one service restarted, or a monolith's
workers replaced one by one (uvicorn's graceful reload on SIGHUP).

Each service reads its model bundle when it starts, so a deploy is: point the bundle folder the
stack serves at the new version (bench.run.update swaps a symlink), then restart what must load
it. A restart is graceful: SIGTERM lets the server finish its requests in flight, then the same
command starts again (same environment, cgroups, port) and is ready when its /readyz answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

import psutil

from stack.runner import READY_TIMEOUT_S, STOP_GRACE_S, Stack, StackError

POLL_S = 0.02
# Every child dies with the thread that started it (PR_SET_PDEATHSIG follows the thread, not
# the process): a service restarted from a short-lived thread (a deploy's) would be killed when
# that thread ends. This one thread starts them all and lives as long as the harness.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archbench-spawner")


def restart(stack: Stack, name: str, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """Stop one service gracefully and start it again; returns when it is ready, with the
    Unix times of each step (stopping, stopped, spawned, ready)."""
    service = stack.service(name)
    old = stack.processes[name]
    times: dict[str, Any] = {"service": name, "old_pid": old.pid, "stopping_unix": time.time()}
    stack.replacing.add(name)
    try:
        with suppress(ProcessLookupError):
            os.killpg(old.pid, signal.SIGTERM)
        try:
            old.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(old.pid, signal.SIGKILL)
            old.wait()
        times["stopped_unix"] = time.time()
        new = _SPAWNER.submit(stack.respawn, service).result()
        times.update(new_pid=new.pid, spawned_unix=time.time())
        deadline = time.monotonic() + timeout_s
        while not stack.ready(service, timeout_s=0.5):
            if new.poll() is not None or time.monotonic() > deadline:
                path = stack.log_path(name)
                raise StackError(
                    f"service {name!r} did not come back after its update; log: {path}", path
                )
            time.sleep(POLL_S)
        times["ready_unix"] = time.time()
    finally:
        stack.replacing.discard(name)
    return times


def reload_workers(stack: Stack, name: str, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """SIGHUP a multi-worker server (uvicorn's supervisor): it starts a new worker, waits until
    it is ready, then retires an old one, one worker at a time. Returns when no old worker is
    left and as many new ones serve, with the Unix times and the workers' pids."""
    leader = psutil.Process(stack.processes[name].pid)
    old = _workers(leader)
    times: dict[str, Any] = {"service": name, "old_pids": sorted(old), "stopping_unix": time.time()}
    leader.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout_s
    while True:
        children = _workers(leader)
        if children and not children & old and len(children) >= len(old):
            break
        if time.monotonic() > deadline:
            path = stack.log_path(name)
            raise StackError(
                f"the workers of {name!r} were not replaced in time; log: {path}", path
            )
        time.sleep(POLL_S)
    times.update(new_pids=sorted(children), ready_unix=time.time())
    return times


def _workers(leader: psutil.Process) -> set[int]:
    """The pids of a supervisor's live workers (not multiprocessing's resource tracker)."""
    found = set()
    for child in leader.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and not any(
                "resource_tracker" in part for part in child.cmdline()
            ):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found
