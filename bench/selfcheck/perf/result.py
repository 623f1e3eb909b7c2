"""What `archbench perf` is configured with, which stacks it measures, and what it measured in
each round, with its conditions."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.measure.calibration import pipeline_argv
from bench.selfcheck.wrk import Peak
from serving.api import ENDPOINTS
from stack.budget import Applied
from stack.runner import Stack
from stack.topology import Budget

PREDICT = next(e for e in ENDPOINTS if e.path == "/predict")
# The gateway calls each stage service of /predict once: that many hops per request.
HOPS = len(PREDICT.stages)
# The stacks measured, by name: each starts on a base port within a budget. The first is the
# baseline every other one's hop tax and peak are taken against. Adding a stack is a line here.
StackFactory = Callable[[int, Budget], Stack]
# The micro stack with secured hops (mutual TLS), measured beside the plain one.
SECURED = "micro+mTLS"
# Both architectures again with W3C tracing off (serving/trace.py): what tracing costs is the
# difference in the same round. They are sides of that price only, not of the hop-tax ratios.
UNTRACED = " untraced"
_OFF = {"trace": False}
STACKS: Mapping[str, StackFactory] = {
    "monolith": partial(Stack, "monolith"),
    "micro": partial(Stack, "micro"),
    SECURED: partial(Stack, "micro", secure_hops=True),
    "monolith" + UNTRACED: partial(Stack, "monolith", settings=_OFF),
    "micro" + UNTRACED: partial(Stack, "micro", settings=_OFF),
}
BASELINE = next(iter(STACKS))
# The bare round trip through the gateway's client to a minimal app (perf.floor).
FLOOR = "floor"
IN_PROCESS = "in-process"


@dataclass(frozen=True)
class PerfConfig:
    """What `archbench perf` runs; the defaults keep the whole run to a few minutes."""

    model_dir: Path
    rounds: int = 8
    requests: int = 400  # sequential requests per stack (and to the floor) in each round
    warmup: int = 300
    wrk_seconds: int = 3
    wrk_warmup_seconds: int = 1
    wrk_threads: int = 1
    wrk_connections: int = 8
    # As long as a wrk window, so both sides of "served / in-process" average the same span of
    # this VM's sub-second speed changes: with 1 s, three runs gave 1.05, 0.81 and 0.69; with
    # 3 s, 0.840, 0.837 and 0.836.
    in_process_seconds: float = 3.0
    base_port: int = 8800


@dataclass(frozen=True)
class Sample:
    """One round's sequential single-record requests to one side: client-side latency and the
    side's CPU per request (its cgroup; None without one)."""

    requests: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None


@dataclass
class PerfResult:
    """Everything one `archbench perf` measured, round by round, with its conditions."""

    config: PerfConfig
    sut_cpus: list[int]
    generator_cpus: list[int]
    applied: Applied | None = None
    steps: list[str] = field(default_factory=list)  # what a round measures, in its order
    in_process_rps: list[float] = field(default_factory=list)
    # Per stack, and the floor: one sample per round.
    low: dict[str, list[Sample]] = field(default_factory=dict)
    # Per stack: one wrk window per round.
    peaks: dict[str, list[Peak]] = field(default_factory=dict)
    # Per `<stage>-hop` Server-Timing entry of the stacks that have them, every value seen.
    hop_ms: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # Per step: the share of the SUT CPU busy with work outside the measurement, each round.
    foreign: dict[str, list[float]] = field(default_factory=dict)

    @property
    def stacks(self) -> list[str]:
        return list(self.peaks)

    @property
    def compared(self) -> list[str]:
        """The stacks of the hop-tax ratios: all but the untraced sides of the tracing price."""
        return [s for s in self.peaks if not s.endswith(UNTRACED)]


def differences(result: PerfResult, side: str, base: str) -> tuple[list[float], list[float]]:
    """Per round, `side` minus `base` measured in the same round: p50 ms, and CPU-ms per request
    (rounds where either CPU is unknown left out)."""
    pairs = list(zip(result.low.get(base) or [], result.low.get(side) or [], strict=False))
    p50 = [s.p50_ms - b.p50_ms for b, s in pairs]
    cpu = [
        s.cpu_ms_per_request - b.cpu_ms_per_request
        for b, s in pairs
        if s.cpu_ms_per_request is not None and b.cpu_ms_per_request is not None
    ]
    return p50, cpu


def secured_price(result: PerfResult) -> tuple[float, float | None] | None:
    """What securing the hops costs per request: (p50 ms, CPU-ms or None), the median over rounds
    of secured micro minus plain micro in the same round; None when either was not measured."""
    p50, cpus = differences(result, SECURED, "micro")
    if not p50:
        return None
    return statistics.median(p50), statistics.median(cpus) if cpus else None


def tracing_rounds(result: PerfResult) -> dict[str, list[float]]:
    """What tracing costs, per round, in microseconds: per request in each architecture (traced
    minus untraced, p50 and CPU) and per hop: micro's cost less the monolith's (the entry's own
    accept and log line, which both pay) over the hops; empty without the untraced sides."""
    out: dict[str, list[float]] = {}
    for arch in ("monolith", "micro"):
        p50, cpu = differences(result, arch, arch + UNTRACED)
        out[f"{arch} p50"], out[f"{arch} CPU"] = [v * 1000 for v in p50], [v * 1000 for v in cpu]
    for what in ("p50", "CPU"):
        micro, mono = out[f"micro {what}"], out[f"monolith {what}"]
        out[f"per hop {what}"] = [(a - b) / HOPS for a, b in zip(micro, mono, strict=False)]
    return {name: values for name, values in out.items() if values}


def tracing_price(result: PerfResult) -> dict[str, float] | None:
    """`tracing_rounds` as medians over the rounds (µs); None when tracing was not measured."""
    rounds = tracing_rounds(result)
    return {name: statistics.median(v) for name, v in rounds.items()} if rounds else None


def in_process_argv(config: PerfConfig, cpus: Sequence[int]) -> list[str]:
    """The microbench command measuring the whole pipeline at batch 1 on the SUT CPU."""
    return pipeline_argv(config.model_dir, cpus, config.in_process_seconds)
