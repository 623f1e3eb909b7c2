"""Faults a serving process injects into its own stages on request: extra latency, a share of
failed calls, and a memory leak. Off by default; the request path reads one attribute to know.

`slow` waits without using CPU (like a slow dependency of the stage): in the monolith only the
requests that pass through that stage wait. `errors` fails a random share of the stage's calls
with a 500 from the error tree. `leak` makes the process hosting the stage allocate (and touch)
memory at a steady rate until its memory limit kills it.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import msgspec

from pipeline.records import Problem
from serving.errors import InjectedFault, InvalidFault

LEAK_STEP_S = 0.05


class FaultSpec(msgspec.Struct, forbid_unknown_fields=True):
    """The admin request body: what one stage should suffer from now on (zeros: nothing)."""

    stage: str
    slow_ms: float = 0.0
    error_share: float = 0.0
    leak_mib_per_s: float = 0.0

    def problems(self, hosted: tuple[str, ...]) -> list[Problem]:
        """Every value that cannot be injected here, named by its field."""
        found = []
        if self.stage not in hosted:
            where = ", ".join(hosted) if hosted else "no stage"
            found.append(Problem("stage", f"must be a stage this process runs: {where}"))
        if not 0 <= self.slow_ms <= 60_000:
            found.append(Problem("slow_ms", "must be between 0 and 60000"))
        if not 0 <= self.error_share <= 1:
            found.append(Problem("error_share", "must be between 0 and 1"))
        if not 0 <= self.leak_mib_per_s <= 4096:
            found.append(Problem("leak_mib_per_s", "must be between 0 and 4096"))
        return found


class Faults:
    """The faults of one process, for the stages it hosts; `active` is False when there are none."""

    def __init__(self, hosted: tuple[str, ...], seed: int | None = None) -> None:
        self.hosted = hosted
        self.active = False
        self.specs: dict[str, FaultSpec] = {}
        self._rng = random.Random(seed)
        self._hoard: list[bytes] = []
        self._leaking = threading.Event()
        self._leak_rate_bytes_per_s = 0.0
        self._leak_thread: threading.Thread | None = None

    def set(self, spec: FaultSpec) -> None:
        """Replace the faults of one stage; InvalidFault (422) names what cannot be injected."""
        problems = spec.problems(self.hosted)
        if problems:
            raise InvalidFault("this fault cannot be injected here", problems=problems)
        self.specs[spec.stage] = spec
        self._refresh()

    def clear(self) -> None:
        """Remove every fault and free what the leak held."""
        self.specs.clear()
        self._refresh()
        self._hoard.clear()

    def _refresh(self) -> None:
        self.active = any(s.slow_ms or s.error_share for s in self.specs.values())
        rate = sum(s.leak_mib_per_s for s in self.specs.values()) * (1 << 20)
        self._leak_rate_bytes_per_s = rate
        if rate > 0 and (self._leak_thread is None or not self._leak_thread.is_alive()):
            self._leaking.set()
            self._leak_thread = threading.Thread(target=self._leak, name="leak", daemon=True)
            self._leak_thread.start()
        elif rate == 0:
            self._leaking.clear()

    def _leak(self) -> None:
        # A thread, not a task: it leaks the same way under asyncio and under gunicorn's threads.
        last = time.monotonic()
        while self._leaking.is_set():
            time.sleep(LEAK_STEP_S)
            now = time.monotonic()
            # Sized by the time that really passed, so the rate holds when the CPU is busy.
            size = int(self._leak_rate_bytes_per_s * (now - last))
            last = now
            if size:
                # Filled, not just reserved: the kernel charges only pages that are touched.
                self._hoard.append(b"\xa5" * size)

    def _fails(self, spec: FaultSpec) -> bool:
        return bool(spec.error_share) and self._rng.random() < spec.error_share

    def _error(self, stage: str) -> InjectedFault:
        return InjectedFault(f"stage {stage!r} failed (injected fault)", stage)

    async def enter(self, stage: str) -> float:
        """Apply a stage's faults before it runs (asyncio); returns the seconds it waited."""
        spec = self.specs.get(stage)
        if spec is None:
            return 0.0
        if spec.slow_ms:
            # The event loop may wake a sleep early by up to its clock's resolution: sleep out
            # what is left until the stage timers (perf_counter) have seen the whole wait.
            deadline = time.perf_counter() + spec.slow_ms / 1000
            while (left := deadline - time.perf_counter()) > 0:
                await asyncio.sleep(left)
        if self._fails(spec):
            raise self._error(stage)
        return spec.slow_ms / 1000

    def enter_blocking(self, stage: str) -> float:
        """Apply a stage's faults before it runs (in a worker thread)."""
        spec = self.specs.get(stage)
        if spec is None:
            return 0.0
        if spec.slow_ms:
            deadline = time.perf_counter() + spec.slow_ms / 1000
            while (left := deadline - time.perf_counter()) > 0:
                time.sleep(left)
        if self._fails(spec):
            raise self._error(stage)
        return spec.slow_ms / 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosted": list(self.hosted),
            "faults": [msgspec.to_builtins(s) for s in self.specs.values()],
            "leaked_bytes": sum(len(chunk) for chunk in self._hoard),
        }
