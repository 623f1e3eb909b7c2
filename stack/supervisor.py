"""The restart policy of a local stack: notice that a service died, start it again, time it.

Like compose's `restart: unless-stopped` and Docker's back-off: a service that exits while the
stack is up is started again with the same command in the same cgroups, after a delay that starts
at 0.1 s and doubles while the service keeps dying within 10 s of its start. A service not ready
within the runner's ready timeout after dying is given up on: the stack then reports it as lost.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from stack.budget import Confinement
from stack.topology import Service

POLL_S = 0.02
FIRST_DELAY_S, MAX_DELAY_S, STABLE_S = 0.1, 10.0, 10.0
READY_PROBE_TIMEOUT_S = 0.5


@dataclass
class Restart:
    """One death and restart of a service; times are Unix seconds."""

    service: str
    old_pid: int
    exit_code: int
    died_unix: float  # when the death was noticed (at most POLL_S after it)
    new_pid: int | None = None
    ready_unix: float | None = None
    # exit by SIGKILL while the service's memory cgroup counted a new OOM kill
    killed_by_memory_limit: bool | None = None

    @property
    def restart_s(self) -> float | None:
        """From the noticed death to ready again."""
        return None if self.ready_unix is None else self.ready_unix - self.died_unix

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "restart_s": self.restart_s}


class Supervised(Protocol):
    """What the supervisor needs of a started stack (stack.runner.Stack is one)."""

    @property
    def services(self) -> Sequence[Service]: ...

    @property
    def processes(self) -> Mapping[str, subprocess.Popen[bytes]]: ...

    @property
    def confinement(self) -> Confinement: ...

    def respawn(self, service: Service) -> subprocess.Popen[bytes]: ...

    def kill_group(self, pid: int) -> None: ...

    def ready(self, service: Service, timeout_s: float = ...) -> bool: ...

    def log_path(self, name: str) -> Path: ...


class Supervisor:
    """A thread that restarts the dead services of a started stack until stopped."""

    def __init__(
        self,
        stack: Supervised,
        ready_timeout_s: float,
        on_restart: Callable[[Restart], None] | None = None,
    ) -> None:
        self.stack = stack
        self.ready_timeout_s = ready_timeout_s
        self.on_restart = on_restart
        self.restarts: list[Restart] = []
        self.failure: tuple[str, str] | None = None  # (service, what went wrong)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started_at = {name: time.monotonic() for name in stack.processes}
        self._delay_s = dict.fromkeys(stack.processes, FIRST_DELAY_S)
        self._oom_kills = {name: self._kills(name) for name in stack.processes}
        self._due: dict[str, tuple[float, Restart]] = {}  # dead, restart at a monotonic time
        self._pending: dict[str, Restart] = {}  # restarted, not ready yet
        self._given_up: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="archbench-restart", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop restarting (before the stack stops its processes); waits at most a few seconds."""
        self._stop.set()
        self._thread.join(timeout=5)

    def history(self, service: str | None = None) -> list[Restart]:
        """The restarts so far (of one service, or all), oldest first."""
        with self._lock:
            return [r for r in self.restarts if service in (None, r.service)]

    def _kills(self, name: str) -> int:
        events = self.stack.confinement.memory_events(name)
        return events.oom_kills if events else 0

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            for name, process in list(self.stack.processes.items()):
                if name in self._due or name in self._given_up:
                    continue
                code = process.poll()
                if code is not None:
                    self._notice(name, process.pid, code)
            now = time.monotonic()
            for name, (due, restart) in list(self._due.items()):
                if now >= due:
                    del self._due[name]
                    self._respawn(restart)
            self._check_ready()

    def _notice(self, name: str, pid: int, code: int) -> None:
        restart = Restart(name, pid, code, time.time())
        kills = self._kills(name)
        restart.killed_by_memory_limit = code == -signal.SIGKILL and kills > self._oom_kills[name]
        self._oom_kills[name] = kills
        # What the dead leader leaves in its group (a gunicorn worker) goes with it.
        self.stack.kill_group(pid)
        lived_s = time.monotonic() - self._started_at[name]
        delay = FIRST_DELAY_S if lived_s >= STABLE_S else self._delay_s[name]
        self._delay_s[name] = min(MAX_DELAY_S, delay * 2)
        self._due[name] = (time.monotonic() + delay, restart)

    def _respawn(self, restart: Restart) -> None:
        name = restart.service
        service = next(s for s in self.stack.services if s.name == name)
        restart.new_pid = self.stack.respawn(service).pid
        self._started_at[name] = time.monotonic()
        with self._lock:
            self.restarts.append(restart)
        first = self._pending.setdefault(name, restart)
        if first is not restart:  # died again before it was ready: time from the first death
            restart.died_unix = first.died_unix
            self._pending[name] = restart

    def _check_ready(self) -> None:
        for name, restart in list(self._pending.items()):
            service = next(s for s in self.stack.services if s.name == name)
            if self.stack.ready(service, timeout_s=READY_PROBE_TIMEOUT_S):
                restart.ready_unix = time.time()
                del self._pending[name]
                if self.on_restart is not None:
                    self.on_restart(restart)
            elif time.time() - restart.died_unix > self.ready_timeout_s:
                self.failure = (
                    name,
                    f"service {name!r} was not ready within {self.ready_timeout_s:.0f} s of its "
                    f"restart; log: {self.stack.log_path(name)}",
                )
                del self._pending[name]
                self._given_up.add(name)
                self.stack.kill_group(restart.new_pid or restart.old_pid)
