"""The capacity plan of a run: its measurements turned into bench.analyse.capacity_model models,
checked against the capacities measured on this machine, extrapolated to 64 cores, and the answer to
"at R requests per second within an objective, which architecture is cheaper, and by how much?".

The models' inputs are bench.analyse.demand's.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.analyse import capacity_model as cm
from bench.analyse.cost import Prices
from bench.analyse.demand import hops, models_of
from bench.store.folder import ResultsError
from bench.store.stored import open_run
from pipeline.errors import UserError

MAX_CORES = 64
PLAN_MAX_CORES = 4096
RATES_RPS = (10, 30, 100, 300, 1000, 3000, 10000, 30000)


class PlanError(UserError):
    """The run folder cannot answer the plan (missing, or without the needed runs)."""


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
        "hops": hops(summary, found),
        "validation_error": statistics.fmean(errors) if errors else None,
        "validation_error_max": max(errors) if errors else None,
        "validation": checked,
        "points": points,
        "by_rate": by_rate,
    }


def read_run(run_dir: Path) -> tuple[dict[str, Any], float]:
    """A run's summary.json and the objective its capacities were measured at (meta.json);
    PlanError when there is no summary or it cannot be read."""
    path = run_dir / "summary.json"
    if not path.exists():
        raise PlanError(f"no summary.json in {run_dir}; run `archbench bench` first")
    try:
        run = open_run(run_dir)
    except ResultsError as exc:
        raise PlanError(str(exc)) from None
    return run.summary, run.slo_ms
