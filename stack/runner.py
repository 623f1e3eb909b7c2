"""Start a stack as local processes on 127.0.0.1, wait until ready, and always stop all of it.

Each service runs in its own process group inside the stack's confinement, with its log in a file.
Stopping sends SIGTERM to every group, then SIGKILL after a grace period; a child also dies with
the runner (PR_SET_PDEATHSIG), so no process outlives the harness. With `restart=True` a
supervisor (stack.supervisor) starts a dead service again; without it a dead service stays dead
and `check_alive` reports it. Every service gets an admin listener on 127.0.0.1 (serving.admin)
guarded by a token made for this stack alone. With `secure_hops` the hops are mutual TLS: a CA
and a certificate per service (and one for the harness's own probes) are made into a temporary
folder of this stack alone (stack.certs), removed when it stops; the monolith has no hops, so
the switch changes nothing there.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TypeVar

from pipeline.errors import UserError
from pipeline.paths import LOG_ROOT, ROOT
from serving.settings import environ
from stack import certs
from stack.budget import Applied, Confinement
from stack.supervisor import Restart, Supervisor
from stack.topology import COMMON_ENV, Budget, Service, services, shares

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 3.0
# The holder name of the harness's own certificate (readiness probes, admin requests).
HARNESS = "harness"
_PR_SET_PDEATHSIG = 1
_counter = itertools.count()
T = TypeVar("T")


class StackError(UserError):
    """A stack could not start or lost a service; the message names the service and its log."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log

    def details(self) -> str | None:
        if self.log is None:
            return None
        return f"--- last lines of {self.log} ---\n{log_tail(self.log)}"


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a service log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound right now."""
    with socket.socket() as probe:
        # As the servers do: a port whose old connections linger in TIME_WAIT is still free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Every request writes a line to each service's log (serving/trace.py): a log past this size
# is moved aside (replacing the one moved before) when its service next starts, so a service's
# logs hold at most this plus one stack's run.
LOG_ROTATE_BYTES = 64 << 20


def rotate(log: Path) -> None:
    """Move a log past LOG_ROTATE_BYTES to `<name>.log.1`, so the next start begins a new one."""
    if log.exists() and log.stat().st_size > LOG_ROTATE_BYTES:
        log.replace(log.with_name(log.name + ".1"))


def spawn(
    argv: list[str], env: dict[str, str], log: Path, setup: Callable[[], None]
) -> subprocess.Popen[bytes]:
    """Start a child in its own process group, logging to a file, that dies with this process;
    `setup` runs in the child before exec (to join a cgroup or pin CPUs)."""

    def in_child() -> None:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        setup()

    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            env={**os.environ, **env},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=in_child,
        )


class Stack:
    """One architecture's processes, started within a budget, stopped without orphans.

    `replicas` scales a stage out, or the monolith to several workers (stack.topology).
    `spawned_unix` and `ready_unix` keep when each service was started and first answered its
    /readyz (every pending service is probed each round, 50 ms apart).
    """

    def __init__(
        self,
        arch: str,
        base_port: int = 8000,
        budget: Budget | None = None,
        log_dir: Path | None = None,
        settings: Mapping[str, object] | None = None,
        restart: bool = False,
        on_restart: Callable[[Restart], None] | None = None,
        replicas: Mapping[str, int] | None = None,
        secure_hops: bool = False,
    ) -> None:
        self.arch = arch
        self.replicas = dict(replicas or {})
        self.services = services(arch, base_port, replicas=replicas, secure_hops=secure_hops)
        # Only a stack with hops has anything to secure.
        self.secure_hops = secure_hops and len(self.services) > 1
        self.identities: dict[str, certs.Identity] = {}
        self._tls_dir: Path | None = None
        self.budget = budget or Budget()
        self.log_dir = log_dir or LOG_ROOT / arch
        # Serving settings (serving.settings.Settings names) every service of the stack gets.
        self.settings = dict(settings or {})
        memory = {name: limit for name, (_, limit) in shares(arch, self.budget).items()}
        self.confinement = Confinement(
            f"{arch}-{os.getpid()}-{next(_counter)}", self.budget, memory_shares=memory
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.applied: Applied | None = None
        self.admin_token = secrets.token_urlsafe(32)
        self.restart = restart
        self.on_restart = on_restart
        self.supervisor: Supervisor | None = None
        self._stopped_restarts: list[Restart] = []
        self.spawned_unix: dict[str, float] = {}
        self.ready_unix: dict[str, float] = {}
        # services being replaced on purpose (stack.rollout): not dead, whatever their process
        self.replacing: set[str] = set()

    @property
    def entry(self) -> Service:
        return next(s for s in self.services if s.entry)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.entry.port}"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    @property
    def restarts(self) -> list[Restart]:
        """Every restart so far, kept after the stack stops (empty without the restart policy)."""
        return self.supervisor.history() if self.supervisor else self._stopped_restarts

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start every service and wait for every /readyz; on failure stop all and raise."""
        for service in self.services:
            for port, what in ((service.port, ""), (service.admin_port, "admin ")):
                if not port_free(port):
                    raise StackError(
                        f"{what}port {port} for service {service.name!r} is already in use"
                    )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.secure_hops:
            self._tls_dir = Path(tempfile.mkdtemp(prefix=f"archbench-tls-{self.arch}-"))
            holders = [s.name for s in self.services] + [HARNESS]
            self.identities = certs.authority(self._tls_dir, holders, f"archbench {self.arch}")
        self.applied = self.confinement.apply()
        try:
            for service in self.services:
                rotate(self.log_path(service.name))
                self.processes[service.name] = self._spawn(service)
                self.spawned_unix[service.name] = time.time()
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        if self.restart:
            self.supervisor = Supervisor(self, timeout_s, self.on_restart)
            self.supervisor.start()

    def _spawn(self, service: Service) -> subprocess.Popen[bytes]:
        admin = {"admin_port": service.admin_port, "admin_token": self.admin_token}
        identity = self.identities[service.name].settings() if self.secure_hops else {}
        env = {**COMMON_ENV, **service.env, **environ({**admin, **self.settings, **identity})}
        argv = [sys.executable, "-m", service.module, *service.args]
        return spawn(
            argv, env, self.log_path(service.name), lambda: self.confinement.join(service.name)
        )

    def respawn(self, service: Service) -> subprocess.Popen[bytes]:
        """Start a service again with the same command, environment and cgroups."""
        process = self.processes[service.name] = self._spawn(service)
        return process

    def kill_group(self, pid: int) -> None:
        """SIGKILL a service's whole process group (its leader's pid)."""
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def suspend(self, pid: int) -> None:
        """Hang a service: SIGSTOP its process group (the leader's pid)."""
        os.killpg(pid, signal.SIGSTOP)

    def resume(self, pid: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)

    def on_loopback(self, service: str, call: Callable[[], T]) -> T:
        """`call()` where the service's loopback is (its admin listener is bound there): here."""
        return call()

    def describe(self) -> dict[str, object]:
        """What ran, for meta.json and the report: the backend (and an engine's version, mode)."""
        return {"backend": "local"}

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(self.services)
        while pending:
            self.check_alive()
            # Probe every pending service each round, so each one's ready time is its own.
            for service in list(pending):
                if self.ready(service):
                    self.ready_unix[service.name] = time.time()
                    pending.remove(service)
            if not pending:
                return
            if time.monotonic() > deadline:
                path = self.log_path(pending[0].name)
                raise StackError(
                    f"service {pending[0].name!r} was not ready within {timeout_s:.0f} s; "
                    f"log: {path}",
                    path,
                )
            time.sleep(0.05)

    def base_url(self, service: Service, admin: bool = False) -> str:
        """Where the harness reaches a service (or its admin listener): https on a stage with
        secured hops, whose listeners all speak TLS."""
        secured = self.secure_hops and not service.entry
        port = service.admin_port if admin else service.port
        return f"{'https' if secured else 'http'}://127.0.0.1:{port}"

    def client_ssl(self) -> ssl.SSLContext | None:
        """The harness's own client identity for the stages of a stack with secured hops."""
        return self.identities[HARNESS].client_context() if self.secure_hops else None

    def ready(self, service: Service, timeout_s: float = 1.0) -> bool:
        """Whether the service answers its readiness probe with 200 now."""
        url = self.base_url(service) + service.ready_path
        context = None if service.entry else self.client_ssl()
        try:
            with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def check_alive(self) -> None:
        """Raise StackError naming the first service whose process has exited (with the restart
        policy: whose restart failed)."""
        if self.supervisor is not None:
            if self.supervisor.failure is not None:
                name, message = self.supervisor.failure
                raise StackError(message, self.log_path(name))
            return
        for name, process in list(self.processes.items()):
            code = process.poll()
            # a process being replaced, or replaced since the loop began, is not a dead service
            replaced = name in self.replacing or self.processes.get(name) is not process
            if code is not None and not replaced:
                path = self.log_path(name)
                raise StackError(f"service {name!r} exited with code {code}; log: {path}", path)

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after a grace period, drop cgroups."""
        if self.supervisor is not None:
            self.supervisor.stop()
            self._stopped_restarts = self.supervisor.history()
            self.supervisor = None
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in self.processes.values():
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.processes.values():
            # The group may hold children (gunicorn workers) even after its leader exited.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.processes.clear()
        self.confinement.remove()
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()}

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C so that `finally` blocks stop the stack."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
