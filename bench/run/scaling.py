"""Scaling on this machine: capacity, p99 and memory as one stage of the microservices gets more
replicas (the gateway round-robins over them) or the monolith more worker processes (uvicorn's
`--workers`, sharing its port), always within the same budget.

Each point is the capacity scenario (bench.load.shapes) on the scaled stack. Raw data, per point
and repetition: `raw/scaling/<arch>/r<N>/rep<k>/point.json` (the point, and where its raw data
is), `.../start.json` (spawn/ready times and samples at rest, as bench.analyse.cost reads them)
and `.../capacity/` (job.json, latency.json, samples.json, Locust's files). The one-replica point
is the run's own capacity run when there is one (`raw/capacity/<arch>/rep<k>/` and
`raw/start/<arch>/rep<k>-capacity.json`, named in its point.json), not measured twice.

summary.json key `scaling`:

    {"<arch>": [{"replicas": int, "scaled": "<stage>" | "monolith-workers",
                 "capacity_rps": float | None, "fail_rps": float | None, "p99_ms": float | None,
                 "memory_bytes": int | None, "idle_memory_bytes": int | None,
                 "idle_rss_bytes": int | None, "memory_added_bytes": int | None,
                 "idle_memory_added_bytes": int | None,
                 "spread": {"capacity_rps": {...}, "memory_bytes": {...}},
                 "invalid_runs": int, "runs": [per-repetition figures, same names, with "rep",
                                               "raw", "start", "valid", "capacity_noisy"]}]}

Figures are medians over repetitions. `capacity_rps` is the capacity the search found,
`fail_rps` the lowest failing trial above every passing one (the two bracket the true capacity),
`p99_ms` the p99 at capacity, `memory_bytes` the stack cgroup's peak during the
capacity run, `idle_*` the footprint at rest after start (cgroup memory; summed RSS).
`*_added_bytes` are relative to the one-replica point.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.analyse import cost
from bench.analyse import runs as analysis
from bench.analyse.summary import JOB_FILE, job_summary, read
from bench.run.driver import Driver
from bench.run.job import Job
from bench.run.job import planned_seconds as job_seconds
from bench.store.folder import write_atomic

MONOLITH_WORKERS = "monolith-workers"
POINT_FILE = "point.json"


def scale_of(arch: str, stage: str, replicas: int) -> tuple[str, dict[str, int]]:
    """What is scaled in `arch` and the stack's replica map for it."""
    if arch == "monolith":
        return MONOLITH_WORKERS, {"monolith": replicas}
    return stage, {stage: replicas}


def figures(
    summary: dict[str, Any], start: dict[str, Any], folder: Path, raw: Path, start_path: Path
) -> dict[str, Any]:
    """One repetition's point from its capacity summary and its start record."""
    capacity = summary.get("capacity_rps")
    rest = cost.idle(start["idle"]) if len(start.get("idle", [])) >= 2 else {}
    return {
        "raw": str(raw.relative_to(folder)),
        "start": str(start_path.relative_to(folder)),
        "capacity_rps": capacity,
        # the search's bracket: every trial at or above this rate failed
        "fail_rps": summary.get("capacity_high_rps"),
        "p99_ms": (summary.get("at_capacity") or {}).get("p99_ms"),
        "memory_bytes": (summary.get("resources") or {}).get("cgroup_memory_bytes_max"),
        "idle_memory_bytes": rest.get("cgroup_memory_bytes"),
        "idle_rss_bytes": rest.get("total_rss_bytes"),
        "valid": summary["validity"]["valid"],
        "capacity_noisy": summary.get("capacity_noisy"),
    }


def run(driver: Driver) -> None:
    """Measure every replica count on every architecture, repetitions alternating the order;
    each point's `point.json` says where its capacity run and start record are."""
    config, folder = driver.config, driver.path
    counts, repeat = config.scaling_points()
    for rep in range(repeat):
        for arch in list(config.archs)[:: -1 if rep % 2 else 1]:
            for replicas in counts:
                scaled, _ = scale_of(arch, config.scaling_stage, replicas)
                point = {"arch": arch, "replicas": replicas, "scaled": scaled, "rep": rep}
                here = folder / "raw" / "scaling" / arch / f"r{replicas}" / f"rep{rep}"
                reused = folder / "raw" / "capacity" / arch / f"rep{rep}"
                start = folder / "raw" / "start" / arch / f"rep{rep}-capacity.json"
                if replicas == 1 and (reused / JOB_FILE).exists() and start.exists():
                    raw = reused
                else:
                    raw, start = here / "capacity", here / "start.json"
                where = {
                    "raw": str(raw.relative_to(folder)),
                    "start": str(start.relative_to(folder)),
                }
                write_atomic(here / POINT_FILE, {**point, **where, "started_unix": time.time()})
                if raw != reused:
                    _measure(driver, point, here)


def _measure(driver: Driver, point: dict[str, Any], out: Path) -> None:
    """Start the scaled stack and run the capacity scenario on it."""
    config = driver.config
    arch, replicas, rep = point["arch"], point["replicas"], point["rep"]
    _, scale = scale_of(arch, config.scaling_stage, replicas)
    driver.display.phase(f"starting {arch}, {point['scaled']} ×{replicas}", arch, "scaling", rep)
    name = f"{arch}-rep{rep}-scaling-r{replicas}"
    with driver.stack(arch, name, out / "start.json", scale) as stack:
        driver.drive(stack, Job(arch, "capacity", rep), out / "capacity", "scaling", point)


def runs_of(folder: Path, slo_ms: float) -> list[dict[str, Any]]:
    """Every measured point of the folder (its figures from its raw files), in run order."""
    found = [read(p) for p in (folder / "raw" / "scaling").glob(f"*/r*/rep*/{POINT_FILE}")]
    runs = []
    for point in sorted(found, key=lambda p: p["started_unix"]):
        raw, start = folder / point["raw"], folder / point["start"]
        if not (raw / JOB_FILE).exists() or not start.exists():
            continue  # stopped before its load began
        where = {k: point[k] for k in ("arch", "replicas", "scaled", "rep")}
        runs.append({**where, **figures(job_summary(raw, slo_ms), read(start), folder, raw, start)})
    return runs


def planned_seconds(driver: Driver) -> float:
    """Roughly how long the scaling part takes, for the progress bar (0 when not asked for)."""
    config = driver.config
    if not config.runs("scaling"):
        return 0.0
    counts, repeat = config.scaling_points()
    measured = [r for r in counts if r > 1 or "capacity" not in config.scenarios]
    per_point = driver.start_seconds() + job_seconds(config, "capacity") + 6
    return per_point * len(measured) * len(config.archs) * repeat


def summarize(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The `scaling` key: per architecture, a point per replica count (medians over reps)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for arch in dict.fromkeys(r["arch"] for r in runs):
        points = []
        for replicas in sorted({r["replicas"] for r in runs if r["arch"] == arch}):
            mine = [r for r in runs if r["arch"] == arch and r["replicas"] == replicas]
            point: dict[str, Any] = {"replicas": replicas, "scaled": mine[0]["scaled"]}
            for key in ("capacity_rps", "fail_rps", "p99_ms", "memory_bytes"):
                point[key] = cost.median([r[key] for r in mine])
            for key in ("idle_memory_bytes", "idle_rss_bytes"):
                point[key] = cost.median([r[key] for r in mine])
            point["spread"] = {
                k: analysis.spread([r[k] for r in mine]) for k in ("capacity_rps", "memory_bytes")
            }
            point["invalid_runs"] = sum(1 for r in mine if not r["valid"])
            point["runs"] = [
                {k: v for k, v in r.items() if k not in ("arch", "scaled")} for r in mine
            ]
            points.append(point)
        base = next((p for p in points if p["replicas"] == 1), None)
        for point in points:
            for key in ("memory_bytes", "idle_memory_bytes"):
                added = None
                if base is not None and point[key] is not None and base[key] is not None:
                    added = point[key] - base[key]
                point[key.replace("_bytes", "_added_bytes")] = added
        out[arch] = points
    return out
