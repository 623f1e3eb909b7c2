"""One job of a bench run: what it runs, how long it drives load, and its Locust command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.run import update
from bench.run.faults import SCENARIO, FaultRun
from bench.run.locust_process import distribution, locust_command, recording
from bench.run.update import UpdateRun

# Trials a capacity search takes on a quiet machine, for the progress bar (bench.load.search).
TYPICAL_TRIALS = 10


@dataclass(frozen=True)
class Job:
    """One scenario on one architecture in one repetition (a fault run: with its fault; an
    update run: with its way of deploying)."""

    arch: str
    scenario: str
    rep: int
    fault: FaultRun | None = None
    update: UpdateRun | None = None

    @property
    def key(self) -> str:
        run = self.fault or self.update
        return run.key if run else f"{self.scenario}/{self.arch}/rep{self.rep}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}


def planned_seconds(config: BenchConfig, scenario: str) -> float:
    """How long a scenario drives load (warm-up included), for timeouts and the progress bar."""
    if scenario == "capacity":
        # a typical search: ten trials halfway between the shortest and the longest length
        # (a slow stack's trials run long to reach their requests), each with its drain and
        # settle; measured here: 30-70 s for the monolith, about 100 s for the microservices
        typical = TYPICAL_TRIALS * ((config.step_s + config.trial_max_s) / 2 + 1.5)
        return config.probe_s + config.warmup_s + typical
    if scenario == "steady":
        return config.warmup_s + config.steady_s
    if scenario == "spike":
        return config.warmup_s + config.spike_s
    if scenario == SCENARIO:
        return config.warmup_s + config.fault.measured_s
    if scenario == update.SCENARIO:
        return update.planned_seconds(config.update)
    return config.ramp_users / config.ramp_spawn_rate + config.ramp_hold_s


def calibration_seconds(config: BenchConfig) -> float:
    """The capacity part's calibrations beside one search (bench.measure.calibration): before
    and after it, each with its process's start. The scaling part's searches have none."""
    return 2 * (config.calibration_s + 2.0)


def longest_seconds(config: BenchConfig, scenario: str) -> float:
    """The longest a scenario may drive load: a capacity search with every trial it may run at
    the longest length, each followed by the longest drain."""
    if scenario == update.SCENARIO:
        return update.longest_seconds(config.update)
    if scenario != "capacity":
        return planned_seconds(config, scenario)
    trial_s = max(config.step_s, config.trial_max_s) + 1.0 + 11.0
    return config.probe_s + config.warmup_s + 1.0 + config.max_trials * trial_s


def locust_argv(
    config: BenchConfig,
    job: Job,
    url: str,
    rate: float,
    out: Path,
    extra: Mapping[str, object] | None = None,
) -> list[str]:
    """The Locust command for one job: its scenario, the schedule's figures, where to write;
    `extra` options override or add to these."""
    duration = {
        "spike": config.spike_s,
        "ramp": config.ramp_hold_s,
        SCENARIO: config.fault.measured_for(job.fault.fault if job.fault else ""),
    }.get(job.scenario, config.steady_s)
    faulty = job.scenario == SCENARIO
    return locust_command(
        url,
        {
            # a fault run is the steady scenario with a fault injected by the harness
            "--scenario": "steady" if faulty else job.scenario,
            "--rate": rate,
            "--duration": duration,
            "--warmup": config.warmup_s,
            "--step-duration": config.step_s,
            "--probe-duration": config.probe_s,
            "--trial-max-duration": config.trial_max_s,
            "--trial-requests": config.trial_requests,
            "--max-trials": config.max_trials,
            "--search-tolerance": config.search_tolerance,
            "--slo-ms": config.slo_ms,
            "--spike-multiple": config.spike_multiple,
            "--max-in-flight": config.fault.max_in_flight if faulty else config.max_in_flight,
            "--ramp-users": config.ramp_users,
            "--ramp-spawn-rate": config.ramp_spawn_rate,
            "--model-dir": config.model_dir,
            "--payload-seed": config.seed + job.rep,
            "--invalid-share": config.invalid_share,
            **recording(out),
            **distribution(config.workers, config.master_bind),
            "--csv": out / "locust",
            "--html": out / "locust.html",
            **(extra or {}),
        },
    )
