"""The framework part: micro-flask (the `features` stage on Flask under gunicorn) in one steady run
at the run's common load, beside micro's own steady runs, for "each service can use its own
framework" in the default run without running every scenario on a third architecture.

One stack, one steady job (the same warm-up, length and rate as micro's steady runs; about 20 s
with the start). Raw data: `raw/framework/micro-flask/rep0/start.json` (spawn/ready times and
samples at rest) and `.../steady/` (job.json, latency.json, samples.json, Locust's files). A run
that already measures micro-flask as one of its architectures skips this part.

summary.json key `framework`:

    {"runs": {"steady/micro-flask/rep0": per-run summary (bench.analyse.runs.summarize)},
     "by_arch": {"micro-flask": {"steady": {median and min–max figures, as by_arch}}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.analyse import runs as analysis
from bench.analyse.summary import complete, job_summary, jobs
from bench.run.driver import Driver
from bench.run.job import Job
from bench.run.job import planned_seconds as job_seconds

ARCH, SCENARIO = "micro-flask", "steady"
PART = "framework"


def wanted(driver: Driver) -> bool:
    """Whether the part runs: asked for, and micro-flask not already one of the run's stacks."""
    config = driver.config
    return config.runs(PART) and ARCH not in config.archs


def run(driver: Driver) -> None:
    """Start micro-flask in the budget and drive one steady job at the common rate."""
    if not wanted(driver):
        return
    here = driver.path / "raw" / PART / ARCH / "rep0"
    driver.display.phase(f"starting {ARCH}", ARCH, PART, 0)
    with driver.stack(ARCH, f"{ARCH}-rep0-{PART}", here / "start.json") as stack:
        driver.drive(stack, Job(ARCH, SCENARIO, 0), here / SCENARIO, PART)


def planned_seconds(driver: Driver) -> float:
    """Roughly how long the part takes, for the progress bar (0 when it does not run)."""
    if not wanted(driver):
        return 0.0
    return driver.start_seconds() + job_seconds(driver.config, SCENARIO) + 6


def summarize(folder: Path, slo_ms: float) -> dict[str, Any] | None:
    """The `framework` key from the folder's raw files; None when the part did not run."""
    runs = {
        job["key"]: job_summary(out, slo_ms) for out, job in jobs(folder, PART) if complete(out)
    }
    if not runs:
        return None
    return {"runs": runs, "by_arch": analysis.aggregate(runs, [ARCH], [SCENARIO])}
