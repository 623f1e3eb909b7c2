"""The load generator's capacity with 1, 2, 4... Locust workers (`archbench loadperf --workers`):
each count offered more cheap open-loop requests than it can send, at a target that cannot be
the bottleneck (the perf floor server, alone on the system-under-test CPU), next to wrk's
closed-loop peak on the same target and requests, with every worker's CPU per request.

What a count achieved is what it was answered in its measured window (answers with the expected
status, counted by the exact record), not what it scheduled or sent: a saturated target makes
the workers shed and block, and sent requests then overstate what the generator got through.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analyse import runs as analysis
from bench.load import payloads
from bench.run.locust_process import distribution
from bench.selfcheck import wrk
from bench.selfcheck.loadperf.locust_runs import cheap_requests, command, run_locust
from bench.selfcheck.loadperf.result import LoadPerfConfig
from bench.selfcheck.perf.floor import FloorServer
from pipeline.paths import DEFAULT_MODEL_DIR

# Valid /validate records: the floor server answers 200 to anything, as they expect, and they
# are the cheapest requests to make.
VALIDATE_MIX = {"validate": payloads.DEFAULT_MIX["validate"]}
# The target at this share of its core, or answering this share of wrk's peak from it, or more
# may have been the limit, not the generator.
MAX_TARGET_CPU_SHARE = 0.9
# Scaling is near-linear when N workers (on at most as many cores) answer at least this share
# of N times one worker's rate.
NEAR_LINEAR = 0.8


@dataclass(frozen=True)
class GeneratorRun:
    """N workers offered `offered_rps` between them: what was answered, what they sent, and
    each worker's CPU."""

    workers: int
    command: list[str]
    offered_rps: float
    answered_rps: float | None  # answers received in the measured window, per second
    sent_rps: float | None  # what the workers sent (shed requests included): validity's rate
    wrk_rps: float  # wrk's closed-loop peak on the same target and requests, run right before
    reasons: list[str]  # why the run is invalid (a worker at its CPU limit, slipping...)
    us_per_request: list[float | None]  # per worker: its CPU / the answers it received
    cpu_share: list[float | None]  # per worker: its CPU / its measured wall time
    target_cpu_share: float | None = None  # the target's CPU / the run's wall time


def wrk_script(out: Path, seed: int) -> Path:
    """The wrk script sending the generator runs' valid /validate records."""
    pool = payloads.pool(
        payloads.source(DEFAULT_MODEL_DIR), seed, invalid_share=0.0, mix=VALIDATE_MIX
    )
    script = out / "validate.lua"
    script.write_text(wrk.lua_script([p.body for p in pool]))
    return script


def generator_runs(
    floor: FloorServer,
    out: Path,
    config: LoadPerfConfig,
    cpus: list[int],
    say: Callable[[str], None],
) -> list[GeneratorRun]:
    """For each worker count: wrk's peak on the floor server, then the workers offered more
    than they can send."""
    out.mkdir(parents=True, exist_ok=True)
    script = wrk_script(out, config.seed)
    url = floor.url + "/validate"
    wrk_command = wrk.command(url, script, config.wrk_s, 1, config.connections, cpus)
    runs = []
    for workers in config.workers:
        say(f"floor: wrk, then {workers} worker(s) offered {config.worker_rate:g} req/s each")
        peak = wrk.run(wrk_command, config.wrk_s).requests_per_s
        runs.append(
            generator_run(
                floor.url,
                out / f"workers-{workers}",
                config,
                workers,
                cpus,
                peak,
                floor.confinement.cpu_usage_ns,
            )
        )
    return runs


def generator_run(
    url: str,
    out: Path,
    config: LoadPerfConfig,
    workers: int,
    cpus: list[int],
    wrk_rps: float,
    target_cpu_ns: Callable[[], int | None] = lambda: None,
) -> GeneratorRun:
    """One open-loop run of `workers` workers at `worker_rate` each, judged per worker."""
    rate = config.worker_rate * workers
    options = {**cheap_requests(config, rate), "--invalid-share": 0, **distribution(workers)}
    argv = command(url, out, options)
    before_ns, started = target_cpu_ns(), time.perf_counter()
    record = run_locust(argv, out, cpus, config.cost_warmup_s + config.cost_s + 10)
    after_ns, wall_s = target_cpu_ns(), time.perf_counter() - started
    target = None
    if before_ns is not None and after_ns is not None:
        target = (after_ns - before_ns) / 1e9 / wall_s
    verdict = analysis.validity(record)
    entries = [w for w in record.get("workers") or [] if not w.get("missing")]
    return GeneratorRun(
        workers,
        argv,
        rate,
        answered_rps(record),
        verdict.achieved_rps,
        wrk_rps,
        verdict.reasons,
        [_us_per_answer(w) for w in entries],
        [_share(w) for w in entries],
        target,
    )


def answered(record: dict[str, Any]) -> int:
    """Answers with the expected status to requests of the measured window's bins."""
    return analysis.counts(record, analysis.measured_bins(record))["ok"]


def answered_rps(record: dict[str, Any]) -> float | None:
    """Answers per second of the measured window (its whole bins; a request is counted in the
    bin of its intended time, so at most the in-flight bound's answers fall past its end)."""
    bins = analysis.measured_bins(record)
    return answered(record) / (len(bins) * record["bin_s"]) if bins else None


def _us_per_answer(worker: dict[str, Any]) -> float | None:
    count, cpu_s = answered(worker), worker.get("generator_cpu_s")
    return cpu_s / count * 1e6 if cpu_s is not None and count else None


def _share(worker: dict[str, Any]) -> float | None:
    cpu_s, wall_s = worker.get("generator_cpu_s"), worker.get("measured_wall_s")
    return cpu_s / wall_s if cpu_s is not None and wall_s else None


def target_bound(run: GeneratorRun) -> bool:
    """Whether the floor server may have been what ran out: near its core's limit, or answering
    about as much as wrk got from it."""
    busy = run.target_cpu_share is not None and run.target_cpu_share >= MAX_TARGET_CPU_SHARE
    answered = run.answered_rps or 0.0
    near_wrk = run.wrk_rps > 0 and answered >= MAX_TARGET_CPU_SHARE * run.wrk_rps
    return busy or near_wrk


def cores_line(generator_cpus: Sequence[int], sut_cpus: Sequence[int]) -> str:
    """Where the workers and the target ran, and so how far scaling can be linear here."""
    cores, total = len(generator_cpus), len({*generator_cpus, *sut_cpus})
    return (
        f"generator capacity: Locust workers on CPU {_listed(generator_cpus)} ({cores} of this "
        f"machine's {total}), the floor server alone on CPU {_listed(sut_cpus)}: scaling can be "
        f"near-linear up to {cores} worker(s), one per core; more workers share those cores, "
        f"so here {cores + 1} or more answer at best what {cores} do"
    )


def _listed(cpus: Sequence[int]) -> str:
    return ",".join(map(str, cpus))


def lines(
    runs: Sequence[GeneratorRun], generator_cpus: Sequence[int], sut_cpus: Sequence[int]
) -> list[str]:
    """The cores line, then one line per worker count, and its command."""
    out = [cores_line(generator_cpus, sut_cpus)] if runs else []
    single = next((r.answered_rps for r in runs if r.workers == 1), None)
    for run in runs:
        answered = run.answered_rps
        ideal = min(run.workers, max(1, len(generator_cpus)))
        scaling = ""
        if answered and single:
            ratio = answered / single
            linear = "near-linear" if ratio >= NEAR_LINEAR * ideal else "not linear"
            scaling = f", {ratio:.2f}× one worker (at most {ideal}× on these cores: {linear})"
        of_wrk = ""
        if answered and run.wrk_rps:
            of_wrk = f" ({answered / run.wrk_rps:.0%} of wrk's {run.wrk_rps:,.0f})"
        us = ", ".join("–" if u is None else f"{u:.1f}" for u in run.us_per_request)
        shares = ", ".join("–" if s is None else f"{s:.0%}" for s in run.cpu_share)
        target = run.target_cpu_share
        floor = "" if target is None else f"; floor server CPU {target:.0%} of its core"
        if target_bound(run):
            floor += " (the target may have been the limit: a lower bound on the generator)"
        state = "valid" if not run.reasons else f"INVALID {run.reasons}"
        out.append(
            f"generator with {run.workers} worker(s): offered {run.offered_rps:,.0f} req/s, "
            f"answered {answered or 0:,.0f} req/s (sent {run.sent_rps or 0:,.0f}){of_wrk}"
            f"{scaling}; CPU per answered request per worker {us} µs; CPU share per worker "
            f"{shares}{floor}; {state}"
        )
        out.append(f"  {' '.join(run.command)}")
    return out
