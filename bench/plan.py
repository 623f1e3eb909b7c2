"""The capacity plan of a run: its measurements turned into bench.capacity_model models, checked
against the capacities measured on this machine, extrapolated to 64 cores, and the answer to
"at R requests per second within an objective, which architecture is cheaper, and by how much?".

Inputs, from summary.json: per service CPU-ms per request (`runs[capacity/...].resources`, near
saturation, median over valid repetitions; steady runs when there is no capacity run), stage
compute (Server-Timing means of the steady runs, weighted by the request mix), a low-load p99
(steady runs; else the lowest capacity step), memory (the steady cgroup memory of `cost`, split
among services by their PSS; a further replica's memory from `scaling` where measured, else the
same as the first), and the budget's cores.

summary.json key `plan`:

    {"slo_ms": float, "prices": {...as in cost...},
     "model": {"<arch>": {"stations": {"<service>": {"cpu_ms_per_request", "compute_ms",
                                                     "overhead_ms", "memory_bytes",
                                                     "added_memory_bytes"}},
                          "cpu_ms_per_request": float, "base_p99_ms": float,
                          "measured_cores": float}},
     "hops": {"hops_per_request": float, "cpu_ms_per_hop": float} | None,
     "validation_error": float | None,      # mean |error| over the validation points
     "validation_error_max": float | None,
     "validation": [{"arch", "source": "capacity" | "scaling", "rep", "cores", "replicas",
                     "measured_rps", "measured_fail_rps", "predicted_rps", "error"}],
     "points": [{"cores": int, "arch", "replicas": {...}, "max_rps", "memory_bytes",
                 "usd_per_hour", "usd_per_million"}],        # 1..64 cores, at the objective
     "by_rate": [{"rate_rps", "<arch>": {"cores", "usd_per_million"} | None,
                  "cheaper": str | None, "saving": float | None}]}

A validation point's measurement brackets the true capacity: the highest step rate that met the
objective and the lowest failing one above it. Its error is 0 when the prediction falls inside,
else the relative distance to the nearer end (negative: the model predicts less).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import capacity_model as cm
from bench.cost import Prices
from bench.results import ResultsError, read_json
from pipeline.stages import STAGE_NAMES
from serving.timing import HOP_SUFFIX

DEFAULT_SLO_MS = 100.0
MAX_CORES = 64
PLAN_MAX_CORES = 4096
RATES_RPS = (10, 30, 100, 300, 1000, 3000, 10000, 30000)


class PlanError(Exception):
    """The run folder cannot answer the plan (missing, or without the needed runs)."""


def _runs(summary: Mapping[str, Any], scenario: str, arch: str) -> list[dict[str, Any]]:
    runs = [r for k, r in summary.get("runs", {}).items() if k.startswith(f"{scenario}/{arch}/")]
    valid = [r for r in runs if r["validity"]["valid"]]
    return [r for r in valid or runs if r.get("resources")]


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


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
    return _median(values)


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
    capacity, steady = _runs(summary, "capacity", arch), _runs(summary, "steady", arch)
    demand_runs = capacity or steady
    if not demand_runs:
        return None
    names = sorted({n for r in demand_runs for n in r["resources"]["services"]})
    cpu: dict[str, float | None] = {
        n: _median(
            [r["resources"]["services"].get(n, {}).get("cpu_ms_per_request") for r in demand_runs]
        )
        for n in names
    }
    demand = {n: v for n, v in cpu.items() if v is not None and v > 0}
    if len(demand) != len(cpu):
        return None
    memory_runs = steady or demand_runs
    pss = {
        n: _median(
            [r["resources"]["services"].get(n, {}).get("pss_bytes_mean") for r in memory_runs]
        )
        or 0.0
        for n in names
    }
    occupied = ((summary.get("cost") or {}).get(arch) or {}).get("runs") or {}
    used = _median([r.get("memory_bytes") for r in occupied.values()])
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
    return max(model.cpu_ms, _median(bases) or 0.0)


def _error(predicted: float, low: float, high: float | None) -> float:
    if predicted < low:
        return (predicted - low) / low
    if high is not None and predicted > high:
        return (predicted - high) / high
    return 0.0


def validation(
    summary: Mapping[str, Any],
    models: Mapping[str, cm.Model],
    cores: Mapping[str, float],
    slo_ms: float,
) -> list[dict[str, Any]]:
    """The model's capacity against every capacity measured on this machine."""
    points = []
    for arch, model in models.items():
        measured: list[tuple[str, int, dict[str, int], float, float | None]] = []
        for run in summary.get("runs", {}).values():
            if (
                run["scenario"] == "capacity"
                and run.get("arch") == arch
                and run.get("capacity_rps")
            ):
                failing = [
                    s["rate"]
                    for s in run["steps"]
                    if not s["passed"] and s["rate"] > run["capacity_rps"]
                ]
                measured.append(
                    ("capacity", run["rep"], {}, run["capacity_rps"], min(failing, default=None))
                )
        for point in (summary.get("scaling") or {}).get(arch, []):
            if point["replicas"] == 1:
                continue  # the capacity runs themselves
            unit = "monolith" if point["scaled"] == "monolith-workers" else point["scaled"]
            for run in point["runs"]:
                if run.get("capacity_rps"):
                    replicas = {unit: point["replicas"]}
                    measured.append(
                        ("scaling", run["rep"], replicas, run["capacity_rps"], run["fail_rps"])
                    )
        for source, rep, replicas, low, high in measured:
            deployment = cm.Deployment(cores[arch], replicas)
            predicted = cm.capacity_rps(model, deployment, slo_ms)
            points.append(
                {
                    "arch": arch,
                    "source": source,
                    "rep": rep,
                    "cores": cores[arch],
                    "replicas": replicas,
                    "measured_rps": low,
                    "measured_fail_rps": high,
                    "predicted_rps": predicted,
                    "error": _error(predicted, low, high),
                }
            )
    return points


def cheapest(
    model: cm.Model, rate_rps: float, slo_ms: float, prices: Prices
) -> dict[str, Any] | None:
    """The fewest cores serving the rate within the objective, with replicas and price."""
    deployment = cm.smallest_for(model, rate_rps, slo_ms, PLAN_MAX_CORES)
    if deployment is None:
        return None
    hourly = cm.usd_per_hour(model, deployment, prices.vcpu_hour_usd, prices.gb_hour_usd)
    return {
        "cores": deployment.cores,
        "replicas": dict(deployment.replicas),
        "memory_bytes": cm.memory_bytes(model, deployment),
        "max_rps": cm.capacity_rps(model, deployment, slo_ms),
        "usd_per_hour": hourly,
        "usd_per_million": hourly / (rate_rps * 3600) * 1e6,
    }


def compare(choices: Mapping[str, dict[str, Any] | None]) -> tuple[str | None, float | None]:
    """The cheaper architecture and its saving (a share of the dearer one's price)."""
    priced = {a: c["usd_per_million"] for a, c in choices.items() if c is not None}
    if len(priced) < 2:
        return None, None
    best, worst = min(priced, key=priced.__getitem__), max(priced, key=priced.__getitem__)
    return best, 1 - priced[best] / priced[worst]


def models_of(summary: Mapping[str, Any]) -> dict[str, tuple[cm.Model, dict[str, Any]]]:
    archs = dict.fromkeys(r.get("arch") for r in summary.get("runs", {}).values() if r.get("arch"))
    found = {a: model_of(summary, a) for a in archs}
    return {a: m for a, m in found.items() if m is not None}


def from_summary(
    summary: Mapping[str, Any],
    slo_ms: float,
    prices: Prices,
    measured_slo_ms: float | None = None,
) -> dict[str, Any] | None:
    """The `plan` key of summary.json (see the module docstring) at an objective; None without a
    model. Validation uses the objective the capacities were measured at (`measured_slo_ms`)."""
    found = models_of(summary)
    if not found:
        return None
    models = {a: m for a, (m, _) in found.items()}
    cores = {a: r["measured_cores"] for a, (_, r) in found.items()}
    checked = validation(summary, models, cores, measured_slo_ms or slo_ms)
    errors = [abs(p["error"]) for p in checked]
    points = []
    for arch, model in models.items():
        for k in range(1, MAX_CORES + 1):
            deployment = cm.deployment_for(model, k)
            rps = cm.capacity_rps(model, deployment, slo_ms)
            hourly = cm.usd_per_hour(model, deployment, prices.vcpu_hour_usd, prices.gb_hour_usd)
            points.append(
                {
                    "cores": k,
                    "arch": arch,
                    "replicas": dict(deployment.replicas),
                    "max_rps": rps,
                    "memory_bytes": cm.memory_bytes(model, deployment),
                    "usd_per_hour": hourly,
                    "usd_per_million": hourly / (rps * 3600) * 1e6 if rps else None,
                }
            )
    by_rate = []
    for rate in RATES_RPS:
        choices = {a: cheapest(m, rate, slo_ms, prices) for a, m in models.items()}
        winner, saving = compare(choices)
        by_rate.append(
            {
                "rate_rps": rate,
                **{
                    a: None
                    if c is None
                    else {"cores": c["cores"], "usd_per_million": c["usd_per_million"]}
                    for a, c in choices.items()
                },
                "cheaper": winner,
                "saving": saving,
            }
        )
    return {
        "slo_ms": slo_ms,
        "measured_slo_ms": measured_slo_ms or slo_ms,
        "prices": prices.as_dict(),
        "model": {a: r for a, (_, r) in found.items()},
        "hops": _hops(summary, found),
        "validation_error": statistics.fmean(errors) if errors else None,
        "validation_error_max": max(errors) if errors else None,
        "validation": checked,
        "points": points,
        "by_rate": by_rate,
    }


def _hops(
    summary: Mapping[str, Any], found: Mapping[str, tuple[cm.Model, Any]]
) -> dict[str, float] | None:
    """CPU per hop: what the microservices spend beyond the monolith, per hop of the mix."""
    if "monolith" not in found or "micro" not in found:
        return None
    hops = _hops_per_request(
        _runs(summary, "steady", "micro") or _runs(summary, "capacity", "micro")
    )
    if not hops:
        return None
    extra = found["micro"][0].cpu_ms - found["monolith"][0].cpu_ms
    return {"hops_per_request": hops, "cpu_ms_per_hop": extra / hops}


def read_run(run_dir: Path) -> tuple[dict[str, Any], float]:
    """A run's summary.json and the objective its capacities were measured at (meta.json);
    PlanError when there is no summary or it cannot be read."""
    path = run_dir / "summary.json"
    if not path.exists():
        raise PlanError(f"no summary.json in {run_dir}; run `archbench bench` first")
    try:
        summary = read_json(path)
        meta = read_json(run_dir / "meta.json") if (run_dir / "meta.json").exists() else {}
    except (ResultsError, ValueError) as exc:
        raise PlanError(f"{run_dir}: {exc}") from None
    return summary, float((meta.get("config") or {}).get("slo_ms", DEFAULT_SLO_MS))
