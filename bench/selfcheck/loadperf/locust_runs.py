"""The Locust runs of `archbench loadperf`: open-loop cost runs, closed-loop users and the
capacity probe, each run headless to its end and read back from our record and Locust's JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bench.analyse import runs as analysis
from bench.load.shapes import Ramp
from bench.run.locust_process import (
    LOCUST_GRACE_S,
    locust_command,
    recording,
    start_locust,
    stop_group,
)
from bench.selfcheck.loadperf.result import CostRun, Load, LoadPerfConfig, LoadPerfError


def command(url: str, out: Path, options: dict[str, object]) -> list[str]:
    """A headless run of our locustfile writing its record and Locust's JSON into `out`."""
    return locust_command(url, {**options, **recording(out)})


def run_locust(argv: list[str], out: Path, cpus: list[int], planned_s: float) -> dict[str, Any]:
    """Run Locust to its end (stopped after a grace period), return our record."""
    out.mkdir(parents=True)
    process = start_locust(argv, cpus, out / "locust.log")
    try:
        process.wait(timeout=planned_s + LOCUST_GRACE_S)
    except subprocess.TimeoutExpired:
        pass  # stop_group makes it write what it has
    finally:
        stop_group(process)
    path = out / "latency.json"
    if not path.exists():
        raise LoadPerfError(f"Locust wrote no record; see {out / 'locust.log'}")
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def locust_stats(out: Path) -> list[dict[str, Any]]:
    """Locust's own per-request-name statistics (its --json-file output)."""
    stats: list[dict[str, Any]] = json.loads((out / "locust.json").read_text())
    return stats


def logged_between(stats: list[dict[str, Any]], start_unix: float, end_unix: float) -> float:
    """Requests Locust logged in [start, end).

    Locust counts per whole second; a second's requests are taken as spread evenly over the part
    of it when the entry was active (the run starts and ends inside seconds), and counted by the
    share of that part inside the window.
    """
    total = 0.0
    for entry in stats:
        first, last = entry["start_time"], entry["last_request_timestamp"]
        for key, n in entry["num_reqs_per_sec"].items():
            active_from, active_to = max(int(key), first), min(int(key) + 1, last)
            inside = min(end_unix, active_to) - max(start_unix, active_from)
            if active_to <= active_from:
                total += n * (start_unix <= active_from < end_unix)
            elif inside > 0:
                total += n * inside / (active_to - active_from)
    return total


def cheap_requests(config: LoadPerfConfig, rate: float) -> dict[str, object]:
    """Options of a steady open-loop run of invalid /validate records at `rate` for the cost
    runs' seconds: requests the stack answers at once, so the generator is what is measured."""
    return {
        "--scenario": "steady",
        "--rate": rate,
        "--duration": config.cost_s,
        "--warmup": config.cost_warmup_s,
        "--max-in-flight": config.max_in_flight,
        "--mix": "validate",
        "--invalid-share": 1,
        "--payload-seed": config.seed,
    }


def cost_run(
    url: str, out: Path, config: LoadPerfConfig, capture: bool, cpus: list[int]
) -> CostRun:
    """Steady open-loop invalid /validate records (answered 422 at once, which is correct)."""
    options = {**cheap_requests(config, config.rate), "--no-latency-capture": not capture}
    argv = command(url, out, {k: v for k, v in options.items() if v is not False})
    record = run_locust(argv, out, cpus, config.cost_warmup_s + config.cost_s)
    stats = locust_stats(out)
    start, end = record["measured_unix"]
    recorded = None
    if capture:
        recorded = analysis.counts(record, analysis.measured_bins(record))["sent"]
    return CostRun(
        capture,
        argv,
        record["generator_cpu_s"],
        record["measured_wall_s"],
        recorded,
        logged_between(stats, start, end),
        sum(e["num_failures"] for e in stats),
        None,  # judged once the phase's contention is known
    )


def users_run(url: str, out: Path, config: LoadPerfConfig, cpus: list[int]) -> Load:
    """Closed-loop Locust users, all started at once and held; req/s after the first seconds."""
    options: dict[str, object] = {
        "--scenario": "ramp",
        "--ramp-users": config.connections,
        "--ramp-spawn-rate": 100,
        "--duration": config.saturation_s,
        "--mix": "predict",
        "--invalid-share": 0,
        "--payload-seed": config.seed,
    }
    argv = command(url, out, options)
    ramp = Ramp(config.connections, 100, config.saturation_s)
    record = run_locust(argv, out, cpus, ramp.duration_s)
    # The last bin is left out too: users stop during it.
    bins = analysis.measured_bins(record, config.skip_s, ramp.duration_s - record["bin_s"])
    counts = analysis.counts(record, bins)
    cpu_s, wall_s = record.get("generator_cpu_s"), record.get("measured_wall_s")
    return Load(
        argv,
        (counts["ok"] + counts["failed"]) / (len(bins) * record["bin_s"]),
        sum(e["num_requests"] for e in locust_stats(out)),
        counts["failed"],
        cpu_s / wall_s if cpu_s is not None and wall_s else None,
    )


def probe_run(url: str, out: Path, config: LoadPerfConfig, cpus: list[int]) -> Load:
    """The capacity scenario's closed-loop probe (as many workers as wrk has connections), with
    a single one-second trial of the search after it."""
    options: dict[str, object] = {
        "--scenario": "capacity",
        "--probe-duration": config.probe_s,
        "--max-in-flight": config.connections,
        "--warmup": 0,
        "--step-duration": 1,
        "--trial-max-duration": 1,
        "--max-trials": 1,
        "--mix": "predict",
        "--invalid-share": 0,
        "--payload-seed": config.seed,
    }
    argv = command(url, out, options)
    record = run_locust(argv, out, cpus, config.probe_s + 1)
    stats = locust_stats(out)
    requests = sum(e["num_requests"] for e in stats)
    return Load(argv, record.get("estimate_rps"), requests, sum(e["num_failures"] for e in stats))
