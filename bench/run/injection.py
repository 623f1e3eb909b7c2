"""Injecting one fault into a running stack on its timeline, from the harness's side: signals to
the process hosting the stage, or requests to its admin endpoint (serving/admin.py) with the
stack's token; and waiting until a stack serves normally again between fault runs."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.run.faults import FaultConfig, FaultRun
from stack.runner import Stack

# Longest the harness waits for Locust's schedule to start, and for a stack to serve again.
MARKER_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 30.0


def admin(stack: Stack, service: str, method: str, spec: dict[str, Any] | None = None) -> Any:
    """One request to a service's admin endpoint, with the stack's token."""
    base = stack.base_url(stack.service(service), admin=True)
    request = urllib.request.Request(
        f"{base}/admin/faults",
        data=json.dumps(spec).encode() if spec is not None else None,
        method=method,
        headers={
            "authorization": f"Bearer {stack.admin_token}",
            "content-type": "application/json",
        },
    )
    context = None if stack.service(service).entry else stack.client_ssl()

    def call() -> Any:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return json.loads(response.read())

    # On the service's own loopback: the host's, or its container's network.
    return stack.on_loopback(service, call)


def schedule_start(marker: Path, stop: threading.Event) -> float | None:
    """The Unix time Locust's schedule starts, from the mark its sender writes (None: stopped,
    or no mark within MARKER_TIMEOUT_S)."""
    deadline = time.monotonic() + MARKER_TIMEOUT_S
    while not stop.wait(0.02) and time.monotonic() < deadline:
        try:
            return float(marker.read_text())
        except (FileNotFoundError, ValueError):  # not there, or being written
            continue
    return None


class Injection:
    """A thread that injects one fault on its timeline, records what happened, and always undoes
    it (SIGCONT, admin DELETE) when stopped, whatever state the run ended in."""

    def __init__(
        self, stack: Stack, run: FaultRun, config: FaultConfig, marker: Path, warmup_s: float
    ) -> None:
        self.stack, self.run, self.config = stack, run, config
        self.marker, self.warmup_s = marker, warmup_s
        self.events: list[dict[str, Any]] = []
        self.schedule_start_unix: float | None = None
        self.error: str | None = None
        self.settled = True
        self._stop = threading.Event()
        self._hung_pid: int | None = None
        self._toggled = False
        self._thread = threading.Thread(target=self._main, name="archbench-fault", daemon=True)

    def __enter__(self) -> Injection:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._undo()

    def _event(self, name: str, **details: Any) -> None:
        self.events.append({"event": name, "t_unix": time.time(), **details})

    def _wait_until(self, t_unix: float) -> bool:
        """Sleep until a Unix time; False if stopped first."""
        return not self._stop.wait(max(0.0, t_unix - time.time()))

    def _main(self) -> None:
        self.schedule_start_unix = schedule_start(self.marker, self._stop)
        if self.schedule_start_unix is None:
            self.error = "Locust's schedule never started"
            return
        measured_start = self.schedule_start_unix + self.warmup_s
        if not self._wait_until(measured_start + self.config.lead_s):
            return
        try:
            self._inject()
        except (OSError, urllib.error.URLError) as exc:
            self.error = f"the fault could not be injected: {exc}"

    def _inject(self) -> None:
        run, config, stack = self.run, self.config, self.stack
        # A remote stack has no pids here: its faults are those its admin listeners toggle.
        known = stack.pids().get(run.service)
        if run.fault == "crash":
            pid = stack.pids()[run.service]
            self._event("start", pid=pid)
            stack.kill_group(pid)
        elif run.fault == "hang":
            pid = stack.pids()[run.service]
            self._event("start", pid=pid)
            self._hung_pid = pid
            stack.suspend(pid)
        else:
            figure = {
                "slow": ("slow_ms", config.slow_ms),
                "errors": ("error_share", config.error_share),
                "leak": ("leak_mib_per_s", config.leak_mib_per_s),
            }[run.fault]
            spec = {"stage": run.stage, figure[0]: figure[1]}
            self._toggled = True
            self._event("start", pid=known, spec=spec)
            admin(stack, run.service, "PUT", spec)
        if run.fault in ("crash", "leak"):
            self._await_restart(stack.pids()[run.service] if known is None else known)
        elif self._wait_until(self.events[0]["t_unix"] + config.fault_s):
            self._undo()
            self._event("end")

    def _await_restart(self, pid: int) -> None:
        """Until the process that replaced `pid` is ready (or the run is over)."""
        while not self._stop.wait(0.02):
            for restart in self.stack.restarts:
                if restart.old_pid == pid and restart.ready_unix is not None:
                    self._toggled = False  # the leaking process is gone
                    self._event("end", restart=restart.as_dict())
                    return

    def _undo(self) -> None:
        if self._hung_pid is not None:
            pid, self._hung_pid = self._hung_pid, None
            self.stack.resume(pid)
        if self._toggled:
            self._toggled = False
            try:
                admin(self.stack, self.run.service, "DELETE")
            except (OSError, urllib.error.URLError) as exc:
                self.error = f"the fault could not be cleared: {exc}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": asdict(self.run),
            "config": asdict(self.config),
            "service": self.run.service,
            "settled": self.settled,
            "schedule_start_unix": self.schedule_start_unix,
            "warmup_s": self.warmup_s,
            "events": self.events,
            "error": self.error,
        }


def settle(stack: Stack, probe: bytes, timeout_s: float = SETTLE_TIMEOUT_S) -> bool:
    """Wait until the stack answers three probes in a row (breakers closed again, pools fresh);
    False if it does not within the timeout."""
    deadline = time.monotonic() + timeout_s
    good = 0
    while good < 3 and time.monotonic() < deadline:
        request = urllib.request.Request(
            stack.url + "/predict", data=probe, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                good = good + 1 if response.status == 200 else 0
        except (OSError, urllib.error.URLError):
            good = 0
        if good < 3:
            time.sleep(0.1)
    return good >= 3
