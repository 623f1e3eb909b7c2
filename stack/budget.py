"""Confine a whole stack to one CPU and memory budget: cgroup v1 where writable, else CPU affinity.

The system under test gets the last CPUs of the machine, the load generator the rest, so the two
never compete for a core. CPU is shared by the whole stack; memory is also split into one child
cgroup per service (its share of the budget, as compose limits each container), so that a service
that outgrows its share is killed by its own limit, not its neighbours.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from stack.topology import Budget

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory")
CFS_PERIOD_US = 100_000
# A stack's cgroup is named "<name>-<pid of the harness>-<n>" (stack.runner): a harness killed
# outright (SIGKILL) cannot remove its own, and the next harness sweeps the empty ones away.
STALE = re.compile(r"[a-z][a-z-]*-(\d+)-\d+")


def machine_cpus(online: Path = Path("/sys/devices/system/cpu/online")) -> list[int]:
    """The machine's online CPUs — not the calling process's affinity, which the harness narrows
    to the generator's CPU before it starts any stack."""
    try:
        cpus: list[int] = []
        for part in online.read_text().strip().split(","):
            low, _, high = part.partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
        return cpus
    except (OSError, ValueError):
        return sorted(os.sched_getaffinity(0))


def sut_cpus(budget: Budget, available: list[int] | None = None) -> list[int]:
    """The CPUs of the system under test: the last ceil(budget) ones, leaving at least one free."""
    cpus = sorted(available if available is not None else machine_cpus())
    wanted = max(1, math.ceil(budget.cpus))
    if len(cpus) <= wanted:
        return cpus
    return cpus[-wanted:]


def generator_cpus(budget: Budget, available: list[int] | None = None) -> list[int]:
    """The CPUs left for the load generator (all of them on a one-CPU machine)."""
    cpus = sorted(available if available is not None else machine_cpus())
    rest = [c for c in cpus if c not in sut_cpus(budget, cpus)]
    return rest or cpus


@dataclass(frozen=True)
class Applied:
    """The limits that really took effect, for the result's metadata."""

    mechanism: str  # "cgroup-v1" or "affinity"
    cpus: list[int]
    cpu_quota: float | None
    memory_bytes: int | None
    cgroup: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class MemoryEvents:
    """How often a memory cgroup hit its limit and how many processes its OOM killer killed."""

    failcnt: int
    oom_kills: int


class Confinement:
    """A cgroup (or, failing that, an affinity mask) that every process of a stack joins.

    `memory_shares` maps each service to its own memory limit, a child of the stack's cgroup.
    """

    def __init__(
        self,
        name: str,
        budget: Budget,
        root: Path = CGROUP_ROOT,
        memory_shares: Mapping[str, int] | None = None,
    ) -> None:
        self.budget = budget
        self.cpus = sut_cpus(budget)
        self._paths = {c: root / c / "archbench" / name for c in CONTROLLERS}
        self._root = root
        self.memory_shares = dict(memory_shares or {})
        self.applied = Applied("affinity", self.cpus, None, None, None)

    def apply(self) -> Applied:
        """Create and configure the cgroups; fall back to affinity if they are not writable."""
        sweep_stale(self._root)
        try:
            self._create()
        except OSError:
            self._remove_dirs()
            return self.applied
        self.applied = Applied(
            "cgroup-v1",
            self.cpus,
            self.budget.cpus,
            self.budget.memory_bytes,
            str(self._paths["cpu"].relative_to(self._root / "cpu")),
        )
        return self.applied

    def _create(self) -> None:
        for controller, path in self._paths.items():
            if controller != "cpuset":
                path.mkdir(parents=True, exist_ok=True)
                continue
            # cgroup v1 cpuset: every level needs cpus and mems before a task may join it.
            for level in (path.parent, path):
                level.mkdir(exist_ok=True)
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    if not (level / knob).read_text().strip():
                        (level / knob).write_text((level.parent / knob).read_text())
            (path / "cpuset.cpus").write_text(",".join(map(str, self.cpus)))
        quota = int(self.budget.cpus * CFS_PERIOD_US)
        (self._paths["cpu"] / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
        (self._paths["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        _limit_memory(self._paths["memory"], self.budget.memory_bytes)
        for service, limit in self.memory_shares.items():
            self.memory_path(service).mkdir(exist_ok=True)
            _limit_memory(self.memory_path(service), limit)

    def memory_path(self, service: str | None = None) -> Path:
        """The memory cgroup of a service (its own when it has a share), or of the stack."""
        path = self._paths["memory"]
        return path / service if service in self.memory_shares else path

    def join(self, service: str | None = None) -> None:
        """Move the calling process into the confinement (run in the child before exec)."""
        os.sched_setaffinity(0, self.cpus)
        if self.applied.mechanism != "cgroup-v1":
            return
        pid = str(os.getpid())
        for controller, path in self._paths.items():
            if controller == "memory":
                path = self.memory_path(service)
            (path / "cgroup.procs").write_text(pid)

    def memory_events(self, service: str | None = None) -> MemoryEvents | None:
        """Limit hits and OOM kills of a service's memory cgroup so far (cgroup only)."""
        if self.applied.mechanism != "cgroup-v1":
            return None
        path = self.memory_path(service)
        fields = dict(
            line.split() for line in (path / "memory.oom_control").read_text().splitlines()
        )
        failcnt = int((path / "memory.failcnt").read_text())
        return MemoryEvents(failcnt, int(fields.get("oom_kill", 0)))

    def cpu_usage_ns(self) -> int | None:
        """CPU time used by every process of the stack so far (cgroup only)."""
        if self.applied.mechanism != "cgroup-v1":
            return None
        return int((self._paths["cpuacct"] / "cpuacct.usage").read_text())

    def memory_bytes(self) -> int | None:
        """Memory charged to the stack now (cgroup only)."""
        if self.applied.mechanism != "cgroup-v1":
            return None
        return int((self._paths["memory"] / "memory.usage_in_bytes").read_text())

    def remove(self, timeout_s: float = 5.0) -> None:
        """Remove the cgroups once their processes are gone (bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._remove_dirs()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _remove_dirs(self) -> None:
        children = [self.memory_path(s) for s in self.memory_shares]
        for path in [*children, *self._paths.values()]:
            if path.exists():
                path.rmdir()


def sweep_stale(root: Path = CGROUP_ROOT) -> list[str]:
    """Remove the empty cgroups of harnesses that are gone (their pid is in the name); a cgroup
    that still holds a process, or whose harness lives, is left alone. Returns what went."""
    gone = []
    for controller in CONTROLLERS:
        parent = root / controller / "archbench"
        for path in sorted(parent.iterdir()) if parent.is_dir() else []:
            match = STALE.fullmatch(path.name)
            if not path.is_dir() or match is None or _alive(int(match[1])):
                continue
            with contextlib.suppress(OSError):  # not empty, or raced by another sweep
                for child in [p for p in path.iterdir() if p.is_dir()]:
                    child.rmdir()
                path.rmdir()
                gone.append(f"{controller}/{path.name}")
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _limit_memory(path: Path, limit: int) -> None:
    (path / "memory.limit_in_bytes").write_text(str(limit))
    swap = path / "memory.memsw.limit_in_bytes"
    if swap.exists():
        # Without this the stack could swap instead of meeting its memory limit.
        with contextlib.suppress(OSError):
            swap.write_text(str(limit))
