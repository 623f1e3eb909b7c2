"""One job of a bench run: what it runs, how long it drives load, and its Locust command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.run.faults import SCENARIO, FaultRun
from bench.run.locust_process import locust_command, recording


@dataclass(frozen=True)
class Job:
    """One scenario on one architecture in one repetition (a fault run: with its fault)."""

    arch: str
    scenario: str
    rep: int
    fault: FaultRun | None = None

    @property
    def key(self) -> str:
        return self.fault.key if self.fault else f"{self.scenario}/{self.arch}/rep{self.rep}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}


def planned_seconds(config: BenchConfig, scenario: str) -> float:
    """How long a scenario drives load (warm-up included), for timeouts and the progress bar."""
    if scenario == "capacity":
        return config.probe_s + config.warmup_s + config.step_s * len(config.capacity_fractions)
    if scenario == "steady":
        return config.warmup_s + config.steady_s
    if scenario == "spike":
        return config.warmup_s + config.spike_s
    if scenario == SCENARIO:
        return config.warmup_s + config.fault.measured_s
    return config.ramp_users / config.ramp_spawn_rate + config.ramp_hold_s


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
            "--capacity-fractions": ",".join(map(str, config.capacity_fractions)),
            "--spike-multiple": config.spike_multiple,
            "--max-in-flight": config.fault.max_in_flight if faulty else config.max_in_flight,
            "--ramp-users": config.ramp_users,
            "--ramp-spawn-rate": config.ramp_spawn_rate,
            "--model-dir": config.model_dir,
            "--payload-seed": config.seed + job.rep,
            "--invalid-share": config.invalid_share,
            **recording(out),
            "--csv": out / "locust",
            "--html": out / "locust.html",
            **(extra or {}),
        },
    )
