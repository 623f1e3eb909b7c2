"""A stack the harness did not start: a deployment already running elsewhere, reached by address.

The same interface as stack.runner.Stack, so the harness drives it like the others; it starts
nothing and stops nothing. `start` waits for the entry point's /readyz; resources come from each
service's /metrics (bench.measure.scrape), not from processes or a cgroup of this machine, so
the stack has no pids, no budget applied and no restart history. Faults are only what the admin
listeners can toggle (slow, errors), and only with their URLs and the stack's token: a signal
cannot reach a process on another host, and a restart there cannot be timed from here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from pipeline.paths import LOG_ROOT
from stack.budget import Applied, Confinement
from stack.runner import READY_TIMEOUT_S, Stack, StackError
from stack.supervisor import Restart
from stack.targets import Target
from stack.topology import DEFAULT_PORT, Budget, Service, services

# Faults a remote stack can take: those its admin listeners toggle without a restart.
REMOTE_FAULTS = ("slow", "errors")
# What this machine cannot know of a deployment elsewhere (meta.json, the report).
NOT_MEASURED = (
    "the stack's budget: its CPU and memory caps are the deployment's own (a reserved price "
    "is that of this run's budget)",
    "the stack's whole CPU and memory (no cgroup here): CPU per request is the sum of its "
    "services' /metrics, and only when every service's is given",
    "other work on the system under test's machine (its CPU contention)",
    "proportional memory (PSS): each service's memory is its resident set",
    "start and ready times",
    "the in-process calibration on the system under test's machine",
    "the gateway's settings in fault runs: the deployment's own (its runs are keyed plain)",
)


class RemoteStack(Stack):
    """One running deployment of an architecture; `metrics_urls` are the services measured."""

    backend = "remote"

    def __init__(
        self,
        arch: str,
        base_port: int = DEFAULT_PORT,
        budget: Budget | None = None,
        log_dir: Path | None = None,
        settings: Mapping[str, object] | None = None,
        *,
        target: Target | None = None,
        replicas: Mapping[str, int] | None = None,
        **restart_policy: object,  # the deployment's own: nothing to restart from here
    ) -> None:  # the local runner's __init__ is not called: it would make processes' state
        if target is None:
            raise StackError(f"no --target given for {arch!r}")
        if replicas and any(count > 1 for count in replicas.values()):
            raise StackError("a remote stack runs as deployed: the harness cannot scale it")
        self.arch, self.target = arch, target
        self.replicas = dict(replicas or {})
        # The topology's names and entry point; the ports are the deployment's, in `target`.
        self.services = services(arch, base_port)
        self.budget = budget or Budget()
        self.log_dir = log_dir or LOG_ROOT / arch
        # Recorded, not applied: the deployment runs with its own settings.
        self.settings = dict(settings or {})
        # Never applied: no cgroup here, so the stack's CPU and memory read as not measured.
        self.confinement = Confinement(f"remote-{arch}-{os.getpid()}", self.budget)
        self.applied: Applied | None = None
        self.admin_token = target.admin_token or ""
        self.secure_hops = False
        # Started by someone else: when, nobody here knows.
        self.spawned_unix: dict[str, float] = {}
        self.ready_unix: dict[str, float] = {}
        self.metrics_urls = {
            name: s.metrics_url for name, s in target.services.items() if s.metrics_url
        }

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def restarts(self) -> list[Restart]:
        return []

    def describe(self) -> dict[str, object]:
        return {"backend": "remote", "target": self.target.public()}

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until the entry point answers its /readyz."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_s
        while not self.ready(self.entry):
            if time.monotonic() > deadline:
                raise StackError(
                    f"target {self.arch} at {self.url} was not ready within {timeout_s:.0f} s"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Nothing to stop: the deployment is not ours."""

    def check_alive(self) -> None:
        """Nothing to check: a remote service that fails shows as errors in the load."""

    def pids(self) -> dict[str, int]:
        return {}

    def base_url(self, service: Service, admin: bool = False) -> str:
        if service.entry and not admin:
            return self.url
        given = self.target.services.get(service.name)
        url = given and (given.admin_url if admin else given.metrics_url)
        if not url:
            what = "admin" if admin else "metrics"
            raise StackError(f"target {self.arch} gives no {what} URL for {service.name!r}")
        return url.removesuffix("/metrics") if not admin else url

    def kill_group(self, pid: int) -> None:
        raise StackError("a remote stack cannot be crashed from here (no process to signal)")

    def suspend(self, pid: int) -> None:
        raise StackError("a remote stack cannot be hung from here (no process to signal)")

    def __enter__(self) -> RemoteStack:
        self.start()
        return self
