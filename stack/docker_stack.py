"""Start a stack as a compose project on a Docker engine, wait until ready, and always remove it.

The same interface as stack.runner.Stack, so the harness drives either. The project is the
architecture's compose file as Compose resolves it, adjusted for this run (stack.docker_config)
and brought up with the compose CLI; the engine is watched through the Docker SDK. Every
container sits under one parent cgroup of the stack (a stack.budget.Confinement with the whole
budget), so the stack's CPU time and memory read as the local runner's do. Budget modes:
`partition` keeps compose's split (each container its own CPU cap), `shared` drops the
per-container CPU caps so that the containers share the parent's total, as local processes do.
A container whose process dies is brought back by Docker's own restart policy (`restart=True`),
watched here and timed to its next ready answer.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors

from pipeline.paths import LOG_ROOT
from stack.backends import DOCKER_BUDGETS as MODES
from stack.budget import Applied, Confinement
from stack.compose import IMAGE, compose_binary
from stack.docker_config import project_config, write_config
from stack.engine import (
    PROJECT_LABEL,
    EngineError,
    client,
    engine_version,
    remove_engine_cgroups,
    remove_project,
    require_image,
)
from stack.netns import call_in, ready_in
from stack.runner import READY_TIMEOUT_S, Stack, StackError, T
from stack.supervisor import Restart
from stack.topology import DEFAULT_PORT, Budget, Service, services

SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 3
WATCH_S = 0.05
PAUSE_ATTEMPTS = 5
_counter = itertools.count()


def project_name(arch: str) -> str:
    """A compose project name of its own for each stack (lower case, digits, dashes)."""
    raw = f"archbench-{arch}-{os.getpid()}-{next(_counter)}"
    return re.sub(r"[^a-z0-9_-]", "-", raw.lower())


class DockerStack(Stack):
    """One architecture as a compose project, in a budget mode, removed without leftovers.

    A Stack to the harness (same attributes and calls), though none of the local runner's
    process handling is used: every method that touches a process is the engine's here.
    """

    backend = "docker"

    def __init__(
        self,
        arch: str,
        base_port: int = DEFAULT_PORT,
        budget: Budget | None = None,
        log_dir: Path | None = None,
        settings: Mapping[str, object] | None = None,
        restart: bool = False,
        on_restart: Callable[[Restart], None] | None = None,
        replicas: Mapping[str, int] | None = None,
        mode: str = "partition",
    ) -> None:  # the local runner's __init__ is not called: it would make processes' state
        if mode not in MODES:
            raise StackError(f"unknown budget mode {mode!r}; choose one of: {', '.join(MODES)}")
        if replicas and any(count > 1 for count in replicas.values()):
            raise StackError("the Docker backend runs one replica of each service")
        self.arch, self.mode, self.base_port = arch, mode, base_port
        self.replicas = dict(replicas or {})
        # Inside the project every service has the topology's own port; only the entry point is
        # published, on base_port of the host's loopback.
        self.services = services(arch, DEFAULT_PORT, host=lambda name: name)
        self.budget = budget or Budget()
        self.log_dir = log_dir or LOG_ROOT / arch
        self.settings = dict(settings or {})
        self.project = project_name(arch)
        self.confinement = Confinement(self.project, self.budget)
        self.applied: Applied | None = None
        self.admin_token = secrets.token_urlsafe(32)
        self.secure_hops = False  # the compose files carry no TLS (stack.backends refuses it)
        self.restart, self.on_restart = restart, on_restart
        self.spawned_unix: dict[str, float] = {}
        self.ready_unix: dict[str, float] = {}
        self.engine_version = "unknown"
        self._engine: docker.DockerClient | None = None
        self._ids: dict[str, str] = {}
        self._pids: dict[str, int] = {}
        self._up_since: dict[str, float] = {}  # when each service's current process was ready
        self._restarts: list[Restart] = []
        self._lock = threading.Lock()
        self._stop_watch = threading.Event()
        self._watcher: threading.Thread | None = None
        self._config_path = self.log_dir / f"compose-{self.project}.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    @property
    def restarts(self) -> list[Restart]:
        with self._lock:
            return list(self._restarts)

    def describe(self) -> dict[str, object]:
        return {"backend": "docker", "engine": self.engine_version, "mode": self.mode}

    def _compose(self, *args: str, timeout_s: float = COMPOSE_TIMEOUT_S) -> None:
        argv = [str(compose_binary()), "--project-name", self.project]
        argv += ["--file", str(self._config_path), *args]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if result.returncode != 0:
            raise EngineError(f"compose {args[0]} failed: {result.stderr.strip()[-2000:]}")

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Create the project and wait for every service's /readyz; on failure remove it all."""
        self._engine = client()
        self.engine_version = engine_version(self._engine)
        require_image(self._engine, IMAGE)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.applied = self.confinement.apply()
        if self.applied.mechanism != "cgroup-v1":
            self.confinement.remove()
            raise EngineError(
                "the Docker backend needs a writable cgroup v1 hierarchy (run as root)"
            )
        config = project_config(
            self.arch,
            self.base_port,
            self.mode,
            "/" + str(self.applied.cgroup),
            {**self.settings, "admin_token": self.admin_token},
            restart=self.restart,
        )
        write_config(self._config_path, config)
        try:
            started = time.time()
            self.spawned_unix = {s.name: started for s in self.services}
            argv = [str(compose_binary()), "--project-name", self.project, "--file"]
            argv += [str(self._config_path), "up", "--detach", "--no-build"]
            with (
                self.log_path("compose-up").open("w") as log,
                subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT) as up,
            ):
                try:
                    self._await_ready(up, timeout_s + COMPOSE_TIMEOUT_S)
                finally:
                    with suppress(subprocess.TimeoutExpired):
                        up.wait(timeout=COMPOSE_TIMEOUT_S)
                    if up.poll() is None:
                        up.kill()
        except BaseException:
            self.stop()
            raise
        if self.restart:
            self._watcher = threading.Thread(target=self._watch, name="archbench-docker-watch")
            self._watcher.daemon = True
            self._watcher.start()

    def _containers(self) -> dict[str, Any]:
        assert self._engine is not None
        found = self._engine.containers.list(
            all=True,
            filters={"label": f"{PROJECT_LABEL}={self.project}"},
            # compose may replace a container between the listing and its inspection
            ignore_removed=True,
        )
        return {c.labels.get(SERVICE_LABEL, c.name): c for c in found}

    def _await_ready(self, up: subprocess.Popen[bytes], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = {s.name: s for s in self.services}
        while pending:
            if up.poll() not in (None, 0):
                words = self.log_path("compose-up").read_text(errors="replace").strip()
                raise EngineError(f"compose up failed: {words[-2000:]}")
            for name, container in self._containers().items():
                if name not in pending:
                    continue
                state = container.attrs["State"]
                if state.get("Running") and ready_in(
                    state["Pid"], pending[name].port, timeout_s=0.5
                ):
                    self.ready_unix[name] = self._up_since[name] = time.time()
                    self._ids[name], self._pids[name] = container.id, int(state["Pid"])
                    del pending[name]
            if time.monotonic() > deadline:
                name = next(iter(pending))
                self._save_logs()
                raise StackError(
                    f"service {name!r} was not ready within {timeout_s:.0f} s; log: "
                    f"{self.log_path(name)}",
                    self.log_path(name),
                )
            time.sleep(0.05)

    def pids(self) -> dict[str, int]:
        """Each service's main process as the host sees it (its current one after a restart)."""
        with self._lock:
            return dict(self._pids)

    def kill_group(self, pid: int) -> None:
        """Crash a service: SIGKILL its container's main process, as an OOM kill or a segfault
        would. (`docker kill` would mark the container stopped by hand, and no restart policy
        brings back a container stopped by hand.)"""
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def ready(self, service: Service, timeout_s: float = 1.0) -> bool:
        pid = self.pids().get(service.name)
        return pid is not None and ready_in(pid, service.port, timeout_s=timeout_s)

    def on_loopback(self, service: str, call: Callable[[], T]) -> T:
        """`call()` in the service's container network, where its admin listener is bound."""
        return call_in(self.pids()[service], call)

    def suspend(self, pid: int) -> None:
        """Hang a service: `docker pause` of its container (the cgroup freezer). On a busy
        machine runc may give up freezing it ("unable to freeze"), leaving it running: then it
        is tried again, PAUSE_ATTEMPTS times in all."""
        container = self._container_of(pid)
        for attempt in range(1, PAUSE_ATTEMPTS + 1):
            try:
                container.pause()
                return
            except docker.errors.APIError as exc:
                if attempt == PAUSE_ATTEMPTS or "unable to freeze" not in str(exc):
                    raise
                time.sleep(0.05)

    def resume(self, pid: int) -> None:
        """`docker unpause` of its container, if it is paused (as SIGCONT, harmless if not)."""
        container = self._container_of(pid)
        container.reload()
        if container.status == "paused":
            container.unpause()

    def _container_of(self, pid: int) -> Any:
        name = next(name for name, known in self.pids().items() if known == pid)
        assert self._engine is not None
        return self._engine.containers.get(self._ids[name])

    def check_alive(self) -> None:
        """Raise StackError naming a service whose container is not running (without the restart
        policy: any; with it, one that Docker gave up on)."""
        if self.restart:
            return
        for name, container in self._containers().items():
            if container.status != "running":
                code = container.attrs["State"].get("ExitCode")
                raise StackError(
                    f"service {name!r} exited with code {code}; log: {self.log_path(name)}"
                )

    def _watch(self) -> None:
        """Notice each container's main process dying and Docker starting a new one; time it."""
        open_restarts: dict[str, Restart] = {}
        while not self._stop_watch.wait(WATCH_S):
            with suppress(docker.errors.DockerException):
                for name, container in self._containers().items():
                    self._watch_one(name, container.attrs["State"], open_restarts)

    def _watch_one(
        self, name: str, state: Mapping[str, Any], open_restarts: dict[str, Restart]
    ) -> None:
        pid = int(state.get("Pid") or 0)
        known = self._pids.get(name)
        restart = open_restarts.get(name)
        if restart is None and known is not None and pid != known:
            restart = Restart(name, known, int(state.get("ExitCode") or -9), time.time())
            restart.killed_by_memory_limit = bool(state.get("OOMKilled"))
            open_restarts[name] = restart
            with self._lock:
                self._restarts.append(restart)
        if restart is not None and pid and ready_in(pid, self.service(name).port, timeout_s=0.5):
            ready_unix = time.time()
            # The state the watch saw may be another death's or none (it can see the new process
            # first): the engine's own record of an OOM kill since the old one was ready counts.
            restart.killed_by_memory_limit = restart.killed_by_memory_limit or self._oom_killed(
                name, restart.died_unix
            )
            with self._lock:
                self._pids[name] = pid
                self._up_since[name] = ready_unix
            # Last: whoever waits for ready_unix then finds the new process in pids().
            restart.new_pid, restart.ready_unix = pid, ready_unix
            del open_restarts[name]
            if self.on_restart is not None:
                self.on_restart(restart)

    def _oom_killed(self, name: str, died_unix: float) -> bool:
        """Whether the engine recorded an OOM kill of the service's container (its own memory
        limit) since the process that died was ready, up to now."""
        assert self._engine is not None
        since = int(self._up_since.get(name, died_unix - 1.0))
        events = self._engine.events(
            since=since,
            until=int(time.time()) + 1,
            filters={"container": self._ids[name], "event": "oom"},
            decode=True,
        )
        try:
            return any(True for _ in events)
        finally:
            events.close()

    def _save_logs(self) -> None:
        with suppress(docker.errors.DockerException, OSError):
            for name, container in self._containers().items():
                self.log_path(name).write_bytes(container.logs(stdout=True, stderr=True))

    def stop(self) -> None:
        """Remove every container, network and volume of the project, then its cgroup."""
        self._stop_watch.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self._engine is not None:
            self._save_logs()
        try:
            if self._config_path.exists():
                self._compose(
                    "down", "--volumes", "--remove-orphans", "--timeout", str(STOP_TIMEOUT_S)
                )
        finally:
            if self._engine is not None:
                remove_project(self._engine, self.project)
            self.confinement.remove(timeout_s=15.0)
            remove_engine_cgroups(self.applied.cgroup if self.applied else None)

    def __enter__(self) -> DockerStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
