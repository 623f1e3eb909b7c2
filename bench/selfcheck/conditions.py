"""The conditions a self-check measures under and prints with its figures: the CPUs (listed and
pinned to), the stacks' budget in words, and when other work on a CPU skews a figure."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from stack.budget import Applied

# Above this share of a CPU going to other work, the figures are flagged as skewed.
MAX_FOREIGN_SHARE = 0.05


def cpu_list(cpus: Sequence[int]) -> str:
    return ",".join(map(str, cpus))


@contextmanager
def pinned(cpus: Sequence[int]) -> Iterator[None]:
    """Run the block on `cpus` only, then restore the affinity.

    Only around the client: the stack's confinement derives the SUT CPU from the affinity of
    the process that creates it.
    """
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def budget_text(applied: Applied | None) -> str:
    """The limits a stack really ran under, in a few words."""
    if applied is None or applied.mechanism != "cgroup-v1":
        return "CPU affinity only, no cgroup: no CPU figures"
    memory_gib = (applied.memory_bytes or 0) / (1 << 30)
    return f"cgroup v1, quota {applied.cpu_quota:g} CPU, {memory_gib:g} GiB"


def skew_warning(skewed: Sequence[str], cpu: str) -> list[str]:
    """A red warning line naming the phases in which other work took over MAX_FOREIGN_SHARE of
    `cpu` ("the SUT CPU", "a CPU"); none when there are none."""
    if not skewed:
        return []
    return [
        f"[red]warning: other work took over {MAX_FOREIGN_SHARE:.0%} of {cpu} during "
        f"{', '.join(skewed)}; those figures are skewed[/]"
    ]
