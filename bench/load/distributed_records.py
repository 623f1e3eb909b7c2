"""Locust workers' share of an open-loop schedule and the exact merge of their latency records:
pure functions of data, so they are tested without Locust (bench.load.distributed moves the data).

Each of N workers runs a Poisson process at rate/N from a seed of its own; the sum of independent
Poisson processes is a Poisson process at the whole rate. Their records merge exactly: HDR
histograms add and counters sum, bin by bin (a bin is a second of the schedule, which every worker
counts from its own start), so percentiles come from the merged histograms, never from averages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.measure import latency

# Distributed runs drive these scenarios (the capacity search's master judges each trial from
# its workers' sums: bench.load.distributed_search); the closed-loop ramp and the harness parts
# run on one Locust process.
SCENARIOS = ("capacity", "steady", "spike")
COUNTERS = ("sent", "ok", "failed", "shed", "degraded")
# What a worker's entry in the merged record keeps: all that bench.analyse.runs.validity reads.
VALIDITY_KEYS = (
    "bin_s", "counts", "lateness", "schedule", "payload_seed", "completed",
    "generator_cpu_s", "generator_cpus", "measured_wall_s", "blocked_s", "measured_unix",
)  # fmt: skip


def worker_seed(seed: int, index: int) -> int:
    """Worker `index`'s arrival seed: its own stream, reproducible from the run's seed."""
    return seed * 1_000 + 101 * (index + 1)


def worker_rate(rate: float, workers: int) -> float:
    """Each worker's share of the whole open-loop rate."""
    return rate / max(1, workers)


def merge(records: Sequence[dict[str, Any]], expected: int, seed: int) -> dict[str, Any]:
    """One record of the whole run from the workers' records (each tagged `worker_index`):
    histograms added, counters summed; `workers` keeps what each worker's validity needs, with
    an entry saying `missing` for each expected worker that sent none."""
    hists: dict[tuple[str, str, int], Any] = {}
    counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    statuses: dict[tuple[str, int], int] = defaultdict(int)
    timings: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    failure_times: dict[str, list[float]] = defaultdict(list)
    lateness = latency.histogram()
    for record in records:
        for h in record["histograms"]:
            key = (h["name"], h["kind"], h["bin"])
            if key not in hists:
                hists[key] = latency.histogram()
            hists[key].add(latency.decode(h["hist"]))
        for c in record["counts"]:
            total = counts[(c["name"], c["bin"])]
            for i, counter in enumerate(COUNTERS):
                total[i] += c[counter]
        for s in record["statuses"]:
            statuses[(s["name"], s["status"])] += s["count"]
        for name, sums in record["timings"].items():
            for key, value in sums.items():
                timings[name][key] += value
        for name, times in record["failure_times_s"].items():
            failure_times[name].extend(times)
        lateness.add(latency.decode(record["lateness"]))
    seen = {r["worker_index"] for r in records}
    workers = [
        {"worker_index": r["worker_index"], "pid": r.get("worker_pid"), "missing": False}
        | {k: r.get(k) for k in VALIDITY_KEYS}
        for r in sorted(records, key=lambda r: r["worker_index"])
    ]
    first = records[0] if records else {}
    # A missing worker's share of the schedule was still planned: the whole falls short by it.
    workers += [
        {"worker_index": i, "missing": True, "schedule": first.get("schedule")}
        | {"payload_seed": worker_seed(seed, i)}
        for i in range(expected)
        if i not in seen
    ]
    busiest = max(records, key=_cpu_share, default={})
    starts = [r["measured_unix"][0] for r in records if (r.get("measured_unix") or [None])[0]]
    ends = [r["measured_unix"][1] for r in records if (r.get("measured_unix") or [None, None])[1]]
    return {
        "schema": latency.SCHEMA,
        "bin_s": first.get("bin_s", 1.0),
        "histograms": [
            {"name": n, "kind": k, "bin": b, "hist": h.encode().decode()}
            for (n, k, b), h in sorted(hists.items())
        ],
        "counts": [
            {"name": n, "bin": b, **dict(zip(COUNTERS, c, strict=True))}
            for (n, b), c in sorted(counts.items())
        ],
        "statuses": [{"name": n, "status": s, "count": c} for (n, s), c in statuses.items()],
        "lateness": lateness.encode().decode(),
        "capped": sum(r.get("capped", 0) for r in records),
        "timings": {n: dict(v) for n, v in timings.items()},
        "failure_times_s": {
            n: sorted(v)[: latency.MAX_FAILURE_TIMES] for n, v in failure_times.items()
        },
        "scenario": first.get("scenario"),
        "schedule": whole_schedule(first.get("schedule"), expected),
        "estimate_rps": None,
        "search": None,
        "trials": [],
        # The whole's CPU and wall are its busiest worker's: one saturated worker is enough.
        "generator_cpu_s": busiest.get("generator_cpu_s"),
        "measured_wall_s": busiest.get("measured_wall_s"),
        "generator_cpu_s_total": sum(r.get("generator_cpu_s") or 0.0 for r in records),
        "measured_unix": [min(starts, default=None), max(ends, default=None)],
        "blocked_s": max((r.get("blocked_s", 0.0) for r in records), default=0.0),
        "completed": len(seen) == expected and all(r.get("completed") for r in records),
        "payload_seed": seed,
        "workers_expected": expected,
        "workers": workers,
    }


def whole_schedule(schedule: dict[str, Any] | None, workers: int) -> dict[str, Any] | None:
    """The whole run's schedule: one worker's steps at `workers` times its rate (to the
    thousandth of a request per second, as the capacity search's rates are)."""
    if schedule is None:
        return None
    steps = [{**step, "rate": round(step["rate"] * workers, 3)} for step in schedule["steps"]]
    return {**schedule, "steps": steps}


def _cpu_share(record: dict[str, Any]) -> float:
    cpu_s, wall_s = record.get("generator_cpu_s"), record.get("measured_wall_s")
    return cpu_s / wall_s if cpu_s is not None and wall_s else -1.0
