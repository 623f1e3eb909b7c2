"""Each job's summary, derived from the raw files it left (`raw/<key>/job.json`, `latency.json`,
`samples.json`, and a fault run's `events.json`), and the scenario and fault runs of a run folder.

Nothing here trusts a harness's memory: a folder's figures are what its raw files give, so the
same functions serve a finished run, an interrupted one and a rebuilt one. Jobs come in the order
they started (`started_unix` in job.json).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.analyse import capacity, isolation
from bench.analyse import runs as analysis
from bench.measure import resources

JOB_FILE = "job.json"
# A capacity job's in-process calibration, measured on the SUT CPU before and after its search.
CALIBRATION_FILE = "calibration.json"


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def jobs(folder: Path, part: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(raw directory, job record) of every job of one part (scenario, fault, scaling, sweep)
    that started in the folder, in the order they started."""
    found = [(p.parent, read(p)) for p in (folder / "raw").rglob(JOB_FILE)]
    for out, job in sorted(found, key=lambda f: f[1]["started_unix"]):
        if job["part"] == part:
            yield out, job


def complete(out: Path) -> bool:
    """Whether a job's raw records were written in full: its latency record and its samples
    (each written atomically, last of all)."""
    return (out / "latency.json").is_file() and (out / "samples.json").is_file()


def job_summary(out: Path, slo_ms: float) -> dict[str, Any]:
    """One job's summary from its raw directory (bench.analyse.runs.summarize, with its
    architecture, repetition and applied budget); invalid when Locust wrote no record."""
    record_path = out / "latency.json"
    record = read(record_path) if record_path.exists() else None
    return summarized(out, read(out / JOB_FILE), record, slo_ms)


def summarized(
    out: Path, job: dict[str, Any], record: dict[str, Any] | None, slo_ms: float
) -> dict[str, Any]:
    """`job_summary` from a job record and its latency record (None: Locust wrote none)."""
    if record is None:
        return {
            "scenario": job["scenario"],
            "arch": job["arch"],
            "rep": job["rep"],
            "validity": {"valid": False, "reasons": ["Locust wrote no record; see locust.log"]},
        }
    samples = out / "samples.json"
    rows = read(samples) if samples.exists() else []
    start, end = record.get("measured_unix") or [None, None]
    figures = None
    if start and end:
        figures = resources.derive(rows, start, end, analysis.answered(record))
    summary = analysis.summarize(record, slo_ms, figures)
    summary.update(arch=job["arch"], rep=job["rep"], budget=job["budget"])
    if record["scenario"] == "capacity":
        summary.update(capacity.summarize(record, slo_ms))
        calibration = out / CALIBRATION_FILE
        rps = read(calibration).get("pipeline_rps") if calibration.exists() else None
        capacity.calibrated(summary, rps)
    return summary


def scenario_runs(
    folder: Path, slo_ms: float, complete_only: bool = False
) -> dict[str, dict[str, Any]]:
    """summary.json's `runs`: each Locust scenario job's summary by its key (with
    `complete_only`, only the jobs whose raw records are complete)."""
    return {
        job["key"]: job_summary(out, slo_ms)
        for out, job in jobs(folder, "scenario")
        if complete(out) or not complete_only
    }


def fault_entries(folder: Path, slo_ms: float) -> list[dict[str, Any]]:
    """summary.json's `faults`: one bench.analyse.isolation entry per fault run."""
    entries = []
    for out, job in jobs(folder, "fault"):
        record_path, events_path = out / "latency.json", out / "events.json"
        if not events_path.exists():
            continue  # killed before the injection's timeline was written: nothing to judge
        record = read(record_path) if record_path.exists() else None
        figures = summarized(out, job, record, slo_ms).get("resources")
        events = read(events_path)
        entries.append(
            isolation.entry(record, events, slo_ms, job["rate_rps"], figures, job["key"])
        )
    return entries
