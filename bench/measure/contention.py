"""How much of the system-under-test CPU went to work outside the measured stack.

Figures taken while something else runs on the SUT CPU (another stack, a test run) are skewed;
this measures that share from the kernel's per-CPU tick counters so a report can say so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_NS_PER_TICK = 1e9 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Ticks:
    """Cumulative time of some CPUs from /proc/stat, in clock ticks."""

    total: int
    idle: int

    @property
    def busy_s(self) -> float:
        """Time the CPUs spent not idle, in seconds."""
        return (self.total - self.idle) * _NS_PER_TICK / 1e9

    @classmethod
    def read(cls, cpus: Sequence[int], stat: Path = Path("/proc/stat")) -> Ticks:
        total = idle = 0
        for line in stat.read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(v) for v in values[:8]]  # guest time is already in user time
                total += sum(ticks)
                idle += ticks[3] + ticks[4]  # idle and iowait
        return cls(total, idle)


def foreign_share(before: Ticks, after: Ticks, measured_ns: int) -> float:
    """Share of the CPUs' time that was busy with something other than `measured_ns` of work.

    Tick counters are coarse (10 ms), so a window of a few seconds reads to about one percent.
    """
    total = after.total - before.total
    if total <= 0:
        return 0.0
    busy_ns = (total - (after.idle - before.idle)) * _NS_PER_TICK
    return max(0.0, (busy_ns - measured_ns) / (total * _NS_PER_TICK))
