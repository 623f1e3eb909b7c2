"""The load generator's capacity with 1, 2, 4... Locust workers (`archbench loadperf --workers`):
each count offered more cheap open-loop requests than it can send, next to wrk's closed-loop
peak on the same stack and requests, with every worker's CPU per request."""

from __future__ import annotations

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
from pipeline.paths import DEFAULT_MODEL_DIR

# Cheap requests (an invalid /validate record, answered 422 at once): the generator, not the
# stack, should be what runs out first.
VALIDATE_MIX = {"validate": payloads.DEFAULT_MIX["validate"]}


@dataclass(frozen=True)
class GeneratorRun:
    """N workers offered `offered_rps` between them: what they sent, and each worker's CPU."""

    workers: int
    command: list[str]
    offered_rps: float
    achieved_rps: float | None
    wrk_rps: float  # wrk's closed-loop peak on the same stack and requests, run right before
    reasons: list[str]  # why the run is invalid (a worker at its CPU limit, slipping...)
    us_per_request: list[float | None]  # per worker: its CPU / the requests it sent
    cpu_share: list[float | None]  # per worker: its CPU / its measured wall time


def wrk_script(out: Path, seed: int) -> Path:
    """The wrk script sending the cost runs' invalid /validate records."""
    pool = payloads.pool(
        payloads.source(DEFAULT_MODEL_DIR), seed, invalid_share=1.0, mix=VALIDATE_MIX
    )
    script = out / "validate.lua"
    script.write_text(wrk.lua_script([p.body for p in pool]))
    return script


def generator_runs(
    url: str, out: Path, config: LoadPerfConfig, cpus: list[int], say: Callable[[str], None]
) -> list[GeneratorRun]:
    """For each worker count: wrk's peak, then the workers offered more than that peak."""
    script = wrk_script(out, config.seed)
    wrk_command = wrk.command(url + "/validate", script, config.wrk_s, 1, config.connections, cpus)
    runs = []
    for workers in config.workers:
        say(f"monolith: wrk, then {workers} worker(s) offered {config.worker_rate:g} req/s each")
        peak = wrk.run(wrk_command, config.wrk_s).requests_per_s
        runs.append(generator_run(url, out / f"workers-{workers}", config, workers, cpus, peak))
    return runs


def generator_run(
    url: str, out: Path, config: LoadPerfConfig, workers: int, cpus: list[int], wrk_rps: float
) -> GeneratorRun:
    """One open-loop run of `workers` workers at `worker_rate` each, judged per worker."""
    options = {**cheap_requests(config, config.worker_rate * workers), **distribution(workers)}
    argv = command(url, out, options)
    record = run_locust(argv, out, cpus, config.cost_warmup_s + config.cost_s + 10)
    verdict = analysis.validity(record)
    entries = [w for w in record.get("workers") or [] if not w.get("missing")]
    return GeneratorRun(
        workers,
        argv,
        config.worker_rate * workers,
        verdict.achieved_rps,
        wrk_rps,
        verdict.reasons,
        [_us_per_request(w) for w in entries],
        [_share(w) for w in entries],
    )


def _us_per_request(worker: dict[str, Any]) -> float | None:
    sent = analysis.counts(worker, analysis.measured_bins(worker))["sent"]
    cpu_s = worker.get("generator_cpu_s")
    return cpu_s / sent * 1e6 if cpu_s is not None and sent else None


def _share(worker: dict[str, Any]) -> float | None:
    cpu_s, wall_s = worker.get("generator_cpu_s"), worker.get("measured_wall_s")
    return cpu_s / wall_s if cpu_s is not None and wall_s else None


def lines(runs: Sequence[GeneratorRun]) -> list[str]:
    """One line per worker count, and its command."""
    out = []
    single = next((r.achieved_rps for r in runs if r.workers == 1), None)
    for run in runs:
        achieved = run.achieved_rps
        scaling = f", {achieved / single:.2f}× one worker" if achieved and single else ""
        of_wrk = f" ({achieved / run.wrk_rps:.0%} of wrk's {run.wrk_rps:,.0f})" if achieved else ""
        us = ", ".join("–" if u is None else f"{u:.1f}" for u in run.us_per_request)
        shares = ", ".join("–" if s is None else f"{s:.0%}" for s in run.cpu_share)
        state = "valid" if not run.reasons else f"INVALID {run.reasons}"
        out.append(
            f"generator with {run.workers} worker(s): offered {run.offered_rps:,.0f} req/s, "
            f"achieved {achieved or 0:,.0f}{of_wrk}{scaling}; CPU per request per worker "
            f"{us} µs; CPU share per worker {shares}; {state}"
        )
        out.append(f"  {' '.join(run.command)}")
    return out
