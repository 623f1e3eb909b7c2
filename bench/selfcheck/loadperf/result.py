"""What `archbench loadperf` is configured with and what it measured, with its conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analyse.runs import Validity
from pipeline.errors import UserError
from stack.budget import Applied

# The saturation loads, in the order they run: the Locust users' unmeasured first seconds warm
# the stack up for wrk too.
USERS, WRK, PROBE = "Locust users", "wrk", "capacity probe"


class LoadPerfError(UserError):
    """A load run produced nothing to measure; the message names its log."""


@dataclass(frozen=True)
class LoadPerfConfig:
    """What `archbench loadperf` runs; the defaults keep the whole run under about two minutes."""

    rate: float = 2500.0  # open-loop req/s of the cost runs: high, yet the generator stays valid
    cost_s: float = 3.0
    cost_warmup_s: float = 1.0
    # Pairs of cost runs, with capture and without; even, as the pairs alternate which goes first
    repeats: int = 4
    max_in_flight: int = 64
    # Rounds of the saturation loads on each stack, in alternating order (ABBA)
    rounds: int = 4
    saturation_s: int = 6  # of each Locust users' run, whose first skip_s are left out
    wrk_s: int = 3
    connections: int = 8  # wrk connections = Locust users = probe workers
    skip_s: float = 2.0  # of the closed-loop Locust run, left out of its throughput
    probe_s: float = 3.0
    seed: int = 1
    base_port: int = 8900
    # Locust worker counts whose open-loop capacity is measured against the perf floor server
    # next to wrk (none: skipped), each worker offered worker_rate req/s: more than one core sends
    workers: tuple[int, ...] = ()
    worker_rate: float = 20000.0


@dataclass(frozen=True)
class CostRun:
    """One open-loop run of cheap requests: the generator's CPU over the measured window."""

    capture: bool
    command: list[str]
    cpu_s: float
    wall_s: float
    recorded: int | None  # requests sent in the measured bins (exact record; None without it)
    logged: float  # requests Locust logged inside the measured window (its JSON)
    failures: int  # Locust's failures over the whole run
    validity: Validity | None

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s

    @property
    def us_per_request(self) -> float | None:
        return self.cpu_s / self.recorded * 1e6 if self.recorded else None

    @property
    def us_per_logged(self) -> float:
        return self.cpu_s / self.logged * 1e6


@dataclass(frozen=True)
class Load:
    """One closed-loop load on a stack at saturation (wrk, Locust users or the capacity probe)."""

    command: list[str]
    rps: float | None
    requests: int  # over the whole run, start-up included (what the stack's CPU was spent on)
    failed: int
    generator_share: float | None = None  # the generator's CPU share, where the record has it
    sut_ms_per_request: float | None = None  # the stack's cgroup CPU over the whole run / requests


@dataclass
class LoadPerfResult:
    """Everything one `archbench loadperf` measured, with its conditions."""

    config: LoadPerfConfig
    out: Path
    sut_cpus: list[int]
    generator_cpus: list[int]
    applied: dict[str, Applied | None] = field(default_factory=dict)
    costs: list[CostRun] = field(default_factory=list)
    # Per stack and load: one run per round.
    saturation: dict[str, dict[str, list[Load]]] = field(default_factory=dict)
    # Per phase (a kind of run): each run's share of the generator CPU, and of the SUT CPU, busy
    # with other work.
    foreign: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)
    # The generator's capacity per worker count (bench.selfcheck.loadperf.generators).
    generators: list[Any] = field(default_factory=list)
