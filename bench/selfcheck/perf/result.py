"""What `archbench perf` is configured with and what it measured, with its conditions."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.selfcheck.conditions import cpu_list
from bench.selfcheck.wrk import Peak
from serving.api import ENDPOINTS
from stack.budget import Applied

PREDICT = next(e for e in ENDPOINTS if e.path == "/predict")
# The gateway calls each stage service of /predict once: that many hops per request.
HOPS = len(PREDICT.stages)
ARCHITECTURES = ("monolith", "micro")
# The micro stack with secured hops (mutual TLS), measured beside the plain one.
SECURED = "micro+mTLS"


@dataclass(frozen=True)
class PerfConfig:
    """What `archbench perf` runs; the defaults keep the whole run under about two minutes."""

    model_dir: Path
    requests: int = 3000
    rounds: int = 6
    warmup: int = 300
    wrk_seconds: int = 10
    wrk_threads: int = 1
    wrk_connections: int = 8
    in_process_seconds: float = 4.0
    base_port: int = 8800


@dataclass(frozen=True)
class LowLoad:
    """Sequential single-record requests: client-side latency and the stack's CPU per request."""

    requests: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    hop_ms: dict[str, float]  # median of each `<stage>-hop` Server-Timing entry


@dataclass
class PerfResult:
    """Everything one `archbench perf` measured, with its conditions."""

    config: PerfConfig
    sut_cpus: list[int]
    generator_cpus: list[int]
    applied: Applied | None = None
    in_process_rps: float = 0.0
    low: dict[str, LowLoad] = field(default_factory=dict)
    peaks: dict[str, Peak] = field(default_factory=dict)
    # Share of the SUT CPU busy with work outside the measurement, per phase.
    foreign: dict[str, float] = field(default_factory=dict)


def secured_price(result: PerfResult) -> tuple[float, float | None] | None:
    """What securing the hops costs per request: (p50 ms, CPU-ms or None), secured micro minus
    plain micro; None when the secured stack was not measured."""
    plain, secured = result.low.get("micro"), result.low.get(SECURED)
    if plain is None or secured is None:
        return None
    cpu = None
    if plain.cpu_ms_per_request is not None and secured.cpu_ms_per_request is not None:
        cpu = secured.cpu_ms_per_request - plain.cpu_ms_per_request
    return secured.p50_ms - plain.p50_ms, cpu


def in_process_argv(config: PerfConfig, cpus: Sequence[int]) -> list[str]:
    """The microbench command measuring the whole pipeline at batch 1 on the SUT CPU."""
    return [
        *("taskset", "-c", cpu_list(cpus), sys.executable, "-m", "bench.selfcheck.microbench"),
        *("--model-dir", str(config.model_dir), "--seconds", str(config.in_process_seconds)),
        *("--batch-sizes", "1", "--pipeline-only", "--json"),
    ]
