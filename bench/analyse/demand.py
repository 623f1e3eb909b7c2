"""The capacity model's inputs from a run summary: per-service CPU demand, stage compute, memory
and the no-queueing p99 of each architecture, and the CPU each hop costs.

From summary.json: per service CPU-ms per request (`runs[capacity/...].resources`, near
saturation, median over valid repetitions; steady runs when there is no capacity run), stage
compute (Server-Timing means of the steady runs, weighted by the request mix), a low-load p99
(steady runs; else the lowest capacity trial), memory (the steady cgroup memory of `cost`, split
among services by their PSS; a further replica's memory from `scaling` where measured, else the
same as the first), and the budget's cores.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from bench.analyse import capacity_model as cm
from bench.analyse.cost import median
from pipeline.stages import STAGE_NAMES
from serving.timing import HOP_SUFFIX


def runs_of(summary: Mapping[str, Any], scenario: str, arch: str) -> list[dict[str, Any]]:
    """A scenario's runs of one architecture with resource figures: the valid ones if any."""
    runs = [r for k, r in summary.get("runs", {}).items() if k.startswith(f"{scenario}/{arch}/")]
    valid = [r for r in runs if r["validity"]["valid"]]
    return [r for r in valid or runs if r.get("resources")]


def _compute_ms(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean stage compute per request of the mix (ms), per stage, over runs."""
    per_run = []
    for run in runs:
        measured, timings = run.get("measured") or {}, run.get("stage_ms") or {}
        counts = {n: m["ok"] for n, m in measured.items() if n != "all"}
        total = sum(counts.values())
        if total:
            per_run.append(
                {
                    s: sum(counts.get(n, 0) * t.get(s, 0.0) for n, t in timings.items()) / total
                    for s in STAGE_NAMES
                }
            )
    return {s: statistics.median(r[s] for r in per_run) for s in STAGE_NAMES} if per_run else {}


def _hops_per_request(runs: Sequence[Mapping[str, Any]]) -> float | None:
    values = []
    for run in runs:
        measured, timings = run.get("measured") or {}, run.get("stage_ms") or {}
        counts = {n: m["ok"] for n, m in measured.items() if n != "all" and n in timings}
        if sum(counts.values()):
            hops = {n: sum(1 for k in timings[n] if k.endswith(HOP_SUFFIX)) for n in counts}
            values.append(sum(counts[n] * hops[n] for n in counts) / sum(counts.values()))
    return median(values)


def _measured_cores(runs: Sequence[Mapping[str, Any]]) -> float:
    for run in runs:
        budget = run.get("budget") or {}
        if budget.get("cpu_quota"):
            return float(budget["cpu_quota"])
        if budget.get("cpus"):
            return float(len(budget["cpus"]))
    return 1.0


def model_of(summary: Mapping[str, Any], arch: str) -> tuple[cm.Model, dict[str, Any]] | None:
    """The capacity model of one architecture from a run summary, and its inputs for the
    record; None if the run has no capacity or steady run of it."""
    capacity, steady = runs_of(summary, "capacity", arch), runs_of(summary, "steady", arch)
    demand_runs = capacity or steady
    if not demand_runs:
        return None
    names = sorted({n for r in demand_runs for n in r["resources"]["services"]})
    cpu: dict[str, float | None] = {
        n: median(
            [r["resources"]["services"].get(n, {}).get("cpu_ms_per_request") for r in demand_runs]
        )
        for n in names
    }
    demand = {n: v for n, v in cpu.items() if v is not None and v > 0}
    if len(demand) != len(cpu):
        return None
    memory_runs = steady or demand_runs
    pss = {
        n: median(
            [r["resources"]["services"].get(n, {}).get("pss_bytes_mean") for r in memory_runs]
        )
        or 0.0
        for n in names
    }
    occupied = ((summary.get("cost") or {}).get(arch) or {}).get("runs") or {}
    used = median([r.get("memory_bytes") for r in occupied.values()])
    scale = used / sum(pss.values()) if used and sum(pss.values()) else 1.0
    added = _added_memory(summary, arch)
    compute = _compute_ms(steady or demand_runs)
    stations, described = [], {}
    for name in names:
        own = compute.get(name, 0.0) if name in STAGE_NAMES else 0.0
        if name == "monolith":
            own = sum(compute.values())
        memory = pss[name] * scale
        further = added.get(name, memory)
        stations.append(cm.Station(name, demand[name], memory, further))
        described[name] = {
            "cpu_ms_per_request": demand[name],
            "compute_ms": own,
            "overhead_ms": max(0.0, demand[name] - own),
            "memory_bytes": memory,
            "added_memory_bytes": further,
        }
    cores = _measured_cores(demand_runs)
    model = cm.Model(arch, tuple(stations), 0.0)
    base = _base_p99(model, cores, steady, capacity)
    model = cm.Model(arch, model.stations, base)
    record = {
        "stations": described,
        "cpu_ms_per_request": model.cpu_ms,
        "base_p99_ms": base,
        "measured_cores": cores,
    }
    return model, record


def _added_memory(summary: Mapping[str, Any], arch: str) -> dict[str, float]:
    """Memory per further replica of the scaled station, from the scaling points."""
    points = (summary.get("scaling") or {}).get(arch) or []
    per_replica = [
        p["memory_added_bytes"] / (p["replicas"] - 1)
        for p in points
        if p["replicas"] > 1 and p.get("memory_added_bytes") is not None
    ]
    if not points or not per_replica:
        return {}
    scaled = "monolith" if points[0]["scaled"] == "monolith-workers" else points[0]["scaled"]
    return {scaled: max(0.0, statistics.median(per_replica))}


def _base_p99(
    model: cm.Model, cores: float, steady: Sequence[Mapping[str, Any]], capacity: Sequence[Any]
) -> float:
    """The no-queueing p99: a low-load p99 minus the model's wait there, at least the CPU work."""
    at_rest = cm.Deployment(cores, {s.name: 1 for s in model.stations})
    points = []
    for run in steady:
        everything = run["measured"]["all"]
        points.append((everything["throughput_rps"], everything["intended_ms"].get("p99")))
    if not points:
        for run in capacity:
            steps = run.get("steps") or []
            if steps:
                points.append((steps[0]["achieved_rps"], steps[0]["p99_ms"]))
    bases = []
    for rate, p99 in points:
        if p99 is None:
            continue
        wait = max(cm.wait_p99_ms(q, rate) for q in cm.queues(model, at_rest))
        bases.append(p99 - wait)
    return max(model.cpu_ms, median(bases) or 0.0)


def models_of(summary: Mapping[str, Any]) -> dict[str, tuple[cm.Model, dict[str, Any]]]:
    """A model (and its inputs, for the record) of every architecture the run can model."""
    archs = dict.fromkeys(r.get("arch") for r in summary.get("runs", {}).values() if r.get("arch"))
    found = {a: model_of(summary, a) for a in archs}
    return {a: m for a, m in found.items() if m is not None}


def hops(
    summary: Mapping[str, Any], found: Mapping[str, tuple[cm.Model, Any]]
) -> dict[str, float] | None:
    """CPU per hop: what the microservices spend beyond the monolith, per hop of the mix."""
    if "monolith" not in found or "micro" not in found:
        return None
    per_request = _hops_per_request(
        runs_of(summary, "steady", "micro") or runs_of(summary, "capacity", "micro")
    )
    if not per_request:
        return None
    extra = found["micro"][0].cpu_ms - found["monolith"][0].cpu_ms
    return {"hops_per_request": per_request, "cpu_ms_per_hop": extra / per_request}
