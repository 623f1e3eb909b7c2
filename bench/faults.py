"""The fault plan of a bench run, and injecting one fault into a running stack on its timeline.

A fault run is the steady open-loop scenario with one fault on one stage, from `lead_s` after the
measured start:

- crash: SIGKILL of the process group hosting the stage (the monolith: the app); the runner's
  restart policy starts it again; the fault lasts until the new process is ready.
- hang: SIGSTOP of that process group for `fault_s`, then SIGCONT.
- slow / errors: the stage waits `slow_ms` more, or fails `error_share` of its calls, for
  `fault_s`, toggled through the process's admin endpoint (serving/admin.py).
- leak: the process hosting the stage allocates `leak_mib_per_s` until its memory limit (its
  share of the budget: stack/budget.py) kills it; the fault lasts until it is ready again.

Microservices run with the gateway's resilience patterns off (no timeouts, no retries, no breaker,
no fallback, one shared pool of 100 connections) or on (RESILIENCE_ENV); the monolith has no
gateway, so only off.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.stages import STAGE_NAMES
from stack.runner import Stack
from stack.topology import hosting

SCENARIO = "faults"
FAULTS = ("crash", "hang", "slow", "errors", "leak")
PROFILES = ("default", "full")
# What `make bench` runs: a crash and a slowdown of the model stage, resilience off.
DEFAULT_FAULTS, DEFAULT_STAGES = ("crash", "slow"), ("score",)
# Longest the harness waits for Locust's schedule to start, and for a stack to serve again.
MARKER_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 30.0

RESILIENCE_ENV: Mapping[bool, Mapping[str, str]] = {
    False: {
        "ARCHBENCH_STAGE_TIMEOUT_S": "0",
        "ARCHBENCH_CONNECT_TIMEOUT_S": "0",
        "ARCHBENCH_POOL_PER_STAGE": "0",
        "ARCHBENCH_RETRIES": "0",
        "ARCHBENCH_BREAKER": "0",
        "ARCHBENCH_FALLBACK": "0",
    },
    True: {
        # ~10x a stage's p99 under the bench's load; a connection comes within it or not at all
        "ARCHBENCH_STAGE_TIMEOUT_S": "0.25",
        "ARCHBENCH_CONNECT_TIMEOUT_S": "0.1",
        # a bulkhead: no stage can hold more than a quarter of the gateway's 100 connections
        "ARCHBENCH_POOL_PER_STAGE": "25",
        "ARCHBENCH_RETRIES": "1",
        "ARCHBENCH_RETRY_BUDGET": "0.2",
        "ARCHBENCH_BREAKER": "1",
        "ARCHBENCH_BREAKER_FAILURES": "5",
        "ARCHBENCH_BREAKER_RESET_S": "1.0",
        "ARCHBENCH_FALLBACK": "1",
    },
}


@dataclass(frozen=True)
class FaultConfig:
    """Which faults a bench run injects (None: the profile's choice) and their figures."""

    kinds: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None
    resilience: tuple[bool, ...] | None = None
    repeat: int = 1
    lead_s: float = 3.0
    fault_s: float = 4.0
    tail_s: float = 6.0
    # 3 s: at the bench's rate, more calls wait on a slow stage than the gateway has connections
    slow_ms: float = 3000.0
    error_share: float = 0.3
    # fast enough that even the monolith (the whole 2 GiB budget) dies within a short run
    leak_mib_per_s: float = 1024.0
    # Far above the steady in-flight count: a stalled stage must not make the generator shed
    # requests to the endpoints that do not need it.
    max_in_flight: int = 1024

    # A leak lasts until the memory limit kills the process: the monolith's limit (the whole
    # budget) takes ~6 s to fill here, so leak runs get this much longer.
    leak_extra_s: float = 6.0

    @property
    def measured_s(self) -> float:
        return self.lead_s + self.fault_s + self.tail_s

    def measured_for(self, fault: str) -> float:
        """The measured seconds of one fault's run."""
        return self.measured_s + (self.leak_extra_s if fault == "leak" else 0.0)

    def check(self) -> list[str]:
        """What is wrong, as one-line messages naming the flag."""
        wrong = [
            f"unknown fault {k!r}; choose from: {', '.join(FAULTS)}"
            for k in self.kinds or ()
            if k not in FAULTS
        ]
        wrong += [
            f"unknown stage {s!r}; choose from: {', '.join(STAGE_NAMES)}"
            for s in self.stages or ()
            if s not in STAGE_NAMES
        ]
        if not 0 <= self.error_share <= 1:
            wrong.append(f"--fault-error-share must be between 0 and 1, not {self.error_share}")
        for flag, value in (
            ("--fault-slow-ms", self.slow_ms),
            ("--fault-s", self.fault_s),
            ("--fault-tail-s", self.tail_s),
        ):
            if value <= 0:
                wrong.append(f"{flag} must be greater than 0, not {value}")
        return wrong


@dataclass(frozen=True)
class FaultRun:
    """One fault on one stage of one architecture, with the gateway's resilience on or off."""

    arch: str
    fault: str
    stage: str
    resilience: bool
    rep: int = 0

    @property
    def key(self) -> str:
        mode = "resilient" if self.resilience else "plain"
        return f"{SCENARIO}/{self.arch}/{self.fault}-{self.stage}-{mode}/rep{self.rep}"

    @property
    def service(self) -> str:
        return hosting(self.arch, self.stage)


def plan(config: FaultConfig, archs: Sequence[str], profile: str) -> list[FaultRun]:
    """The fault runs of a bench, grouped so that runs sharing a stack are consecutive."""
    full = profile == "full"
    kinds = config.kinds or (FAULTS if full else DEFAULT_FAULTS)
    stages = config.stages or (STAGE_NAMES if full else DEFAULT_STAGES)
    modes = config.resilience or ((False, True) if full else (False,))
    runs = []
    for rep in range(config.repeat):
        for arch in archs:
            # the monolith has no gateway: resilience patterns do not apply
            for resilient in modes if arch != "monolith" else (False,):
                runs += [FaultRun(arch, k, s, resilient, rep) for s in stages for k in kinds]
    return runs


def stacks_of(runs: Sequence[FaultRun]) -> list[list[FaultRun]]:
    """Consecutive runs on the same architecture, gateway mode and repetition: one stack each."""
    groups: list[list[FaultRun]] = []
    for run in runs:
        if groups and _stack_key(groups[-1][0]) == _stack_key(run):
            groups[-1].append(run)
        else:
            groups.append([run])
    return groups


def _stack_key(run: FaultRun) -> tuple[str, bool, int]:
    return run.arch, run.resilience, run.rep


def admin(stack: Stack, service: str, method: str, spec: dict[str, Any] | None = None) -> Any:
    """One request to a service's admin endpoint, with the stack's token."""
    port = stack.service(service).admin_port
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/faults",
        data=json.dumps(spec).encode() if spec is not None else None,
        method=method,
        headers={
            "authorization": f"Bearer {stack.admin_token}",
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


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
        deadline = time.monotonic() + MARKER_TIMEOUT_S
        while self.schedule_start_unix is None:
            if self._stop.wait(0.02) or time.monotonic() > deadline:
                self.error = "Locust's schedule never started"
                return
            try:
                self.schedule_start_unix = float(self.marker.read_text())
            except (FileNotFoundError, ValueError):  # not there, or being written
                continue
        measured_start = self.schedule_start_unix + self.warmup_s
        if not self._wait_until(measured_start + self.config.lead_s):
            return
        try:
            self._inject()
        except (OSError, urllib.error.URLError) as exc:
            self.error = f"the fault could not be injected: {exc}"

    def _inject(self) -> None:
        run, config, stack = self.run, self.config, self.stack
        pid = stack.pids()[run.service]
        if run.fault == "crash":
            self._event("start", pid=pid)
            stack.kill_group(pid)
        elif run.fault == "hang":
            self._event("start", pid=pid)
            self._hung_pid = pid
            os.killpg(pid, signal.SIGSTOP)
        else:
            figure = {
                "slow": ("slow_ms", config.slow_ms),
                "errors": ("error_share", config.error_share),
                "leak": ("leak_mib_per_s", config.leak_mib_per_s),
            }[run.fault]
            spec = {"stage": run.stage, figure[0]: figure[1]}
            self._toggled = True
            self._event("start", pid=pid, spec=spec)
            admin(stack, run.service, "PUT", spec)
        if run.fault in ("crash", "leak"):
            self._await_restart(pid)
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
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGCONT)
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
