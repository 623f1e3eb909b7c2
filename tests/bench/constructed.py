"""Run data built in code, shaped like summary.json and the run-folder contract (faults, cost,
scaling, sweep, plan), for the report, verdict and compare tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from bench.load.shapes import SCENARIOS
from bench.store.stored import StoredRun


def spread(value: float | None, low: float | None = None, high: float | None = None) -> dict:
    if value is None:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": value, "min": low or value, "max": high or value, "n": 1}


def figures(
    p50: float = 5.0,
    p99: float = 10.0,
    cpu: float = 2.0,
    memory_mib: float = 128.0,
    errors: float = 0.0,
    capacity: float | None = None,
    invalid: int = 0,
) -> dict[str, Any]:
    """One entry of by_arch[arch][scenario]."""
    out = {
        "runs": 1,
        "invalid_runs": invalid,
        "p50_ms": spread(p50),
        "p99_ms": spread(p99),
        "throughput_rps": spread(50.0),
        "error_rate": spread(errors),
        "cpu_ms_per_request": spread(cpu),
        "memory_bytes": spread(memory_mib * 2**20),
    }
    if capacity is not None:
        out["capacity_rps"] = spread(capacity)
    return out


def stage_ms(hops: bool) -> dict[str, dict[str, float]]:
    """Server-Timing means of a prediction: with hops (micro) or without (monolith)."""
    stages = {"ingest": 0.02, "validate": 0.03, "features": 1.5, "score": 1.2}
    out = dict(stages)
    if hops:
        out.update({f"{s}-hop": 0.9 for s in stages})
    out["total"] = sum(out.values()) + 0.1
    return {"predict": out}


def per_run(arch: str, scenario: str, valid: bool = True, **figs: Any) -> dict[str, Any]:
    """A per-run summary (bench.analyse.runs.summarize's keys the report reads)."""
    f = figures(**figs)
    return {
        "scenario": scenario,
        "arch": arch,
        "rep": 0,
        "validity": {"valid": valid, "reasons": [] if valid else ["constructed to be invalid"]},
        "measured": {
            "all": {"intended_ms": {"p50": f["p50_ms"]["median"], "p99": f["p99_ms"]["median"]}},
            "predict": {"service_ms": {"mean": 6.0}},
        },
        "resources": {
            "cpu_ms_per_request": f["cpu_ms_per_request"]["median"],
            "cgroup_memory_bytes_max": f["memory_bytes"]["median"],
            "services": {arch: {"cpu_ms_per_request": 1.0, "pss_bytes_mean": 2**26}},
        },
        "stage_ms": stage_ms(hops=arch != "monolith"),
        "over_time": [
            {"t_s": float(t), "intended_p50_ms": 5.0, "intended_p99_ms": 9.0} for t in range(5)
        ],
    }


def summary(
    archs: dict[str, dict[str, dict[str, Any]]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A summary with per-run entries and by_arch for `archs` ({arch: {scenario: figures}})."""
    archs = archs if archs is not None else default_archs()
    runs = {}
    by_arch: dict[str, Any] = {}
    for arch, scenarios in archs.items():
        for scenario, figs in scenarios.items():
            assert scenario in SCENARIOS
            invalid = figs.get("invalid", 0)
            runs[f"{scenario}/{arch}/rep0"] = per_run(arch, scenario, valid=not invalid, **figs)
            by_arch.setdefault(arch, {})[scenario] = figures(**figs)
    return {"status": "complete", "reason": None, "rate_rps": 50.0, "runs": runs,
            "by_arch": by_arch, **extra}  # fmt: skip


def default_archs() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "monolith": {
            "capacity": {"capacity": 400.0},
            "steady": {"p50": 5.0, "p99": 10.0, "cpu": 2.5, "memory_mib": 128.0},
        },
        "micro": {
            "capacity": {"capacity": 180.0},
            "steady": {"p50": 8.0, "p99": 22.0, "cpu": 4.7, "memory_mib": 366.0},
        },
    }


def run(
    data: dict[str, Any],
    path: Path = Path("/nonexistent/run"),
    model: dict[str, Any] | None = None,
) -> StoredRun:
    """A stored run of `data`; its meta.json names the served `model` when one is given (as
    bench.run.harness.model_entry writes it), else none, as in runs made before it did."""
    archs = list(data.get("by_arch", {}))
    meta: dict[str, Any] = {"config": {"archs": archs, "scenarios": ["capacity", "steady"],
                                       "repeat": 1, "slo_ms": 100.0}}  # fmt: skip
    if model is not None:
        meta["model"] = model
    return StoredRun(path, meta, copy.deepcopy(data))


def fault(
    arch: str,
    kind: str = "crash",
    stage: str = "score",
    spared: float = 1.0,
    hit: float = 0.0,
    resilience: bool = False,
    rep: int = 0,
    valid: bool = True,
) -> dict[str, Any]:
    """One `faults` entry: `spared` is the success of the endpoints that skip the stage."""

    def endpoint(needs: bool) -> dict[str, Any]:
        success = hit if needs else spared
        return {
            "needs_stage": needs,
            "requests": 200,
            "failed": round(200 * (1 - success)),
            "success_rate_during_fault": success,
            "success_rate_overall": 1 - (1 - success) / 3,
            "time_to_first_error_s": 0.2 if needs else None,
            "recovery_s": 1.5 if needs else None,
            "p99_during_fault_ms": 30.0,
        }

    needs = {"predict": True, "predict-batch": True, "validate": stage in ("ingest", "validate")}
    timeline = [
        {"t_s": t, "name": name, "ok": 40 if (needs[name] is False or not 5 <= t < 10) else 0,
         "failed": 0 if (needs[name] is False or not 5 <= t < 10) else 40,
         "p50_ms": 5.0, "p99_ms": 12.0 if needs[name] is False or not 5 <= t < 10 else None}
        for t in range(15)
        for name in needs
    ]  # fmt: skip
    return {
        "arch": arch,
        "fault": kind,
        "stage": stage,
        "resilience": resilience,
        "rep": rep,
        "rate_rps": 40.0,
        "fault_window_s": [5.0, 10.0],
        "restart_s": 1.3 if kind in ("crash", "leak") else None,
        "killed_by_memory_limit": (kind == "leak") if kind == "leak" else None,
        "endpoints": {name: endpoint(n) for name, n in needs.items()},
        "kept_serving": {name: spared >= 0.99 for name, n in needs.items() if not n},
        "timeline": timeline,
        "validity": {"valid": valid, "reasons": [] if valid else ["constructed to be invalid"]},
    }


def cost(usd: dict[str, float], ready_s: dict[str, float] | None = None) -> dict[str, Any]:
    """A `cost` entry per architecture with the given price per million and time to ready."""
    out: dict[str, Any] = {}
    for arch, price in usd.items():
        services = ["monolith"] if arch == "monolith" else ["gateway", "ingest", "score"]
        out[arch] = {
            "idle": {
                "services": {s: {"rss_bytes": 60 * 2**20, "cpu_percent": 0.5} for s in services},
                "total_rss_bytes": 60 * 2**20 * len(services),
                "total_cpu_percent": 0.5 * len(services),
            },
            "ready_s": {
                "services": {s: (ready_s or {}).get(arch, 1.0) for s in services},
                "total_s": (ready_s or {}).get(arch, 1.0),
            },
            "cpu_s_per_million": 2500.0,
            "gb_s_per_million": 300.0,
            "usd_per_million": price,
            "spread": {
                "usd_per_million": {"median": price, "min": price * 0.9, "max": price * 1.1, "n": 3}
            },  # fmt: skip
        }
    out["prices"] = {"vcpu_hour_usd": 0.04, "gb_hour_usd": 0.005, "source": "constructed",
                     "file": "prices.toml"}  # fmt: skip
    return out


def scaling(micro_rps: tuple[float, float], mono_rps: tuple[float, float]) -> dict[str, Any]:
    """Two points per architecture: 1 and 2 replicas (micro: +50 MiB, monolith: +150 MiB)."""
    return {
        "micro": [
            {"replicas": 1, "scaled": "score", "capacity_rps": micro_rps[0], "p99_ms": 40.0,
             "memory_bytes": 366 * 2**20},
            {"replicas": 2, "scaled": "score", "capacity_rps": micro_rps[1], "p99_ms": 38.0,
             "memory_bytes": 416 * 2**20},
        ],
        "monolith": [
            {"replicas": 1, "scaled": "monolith-workers", "capacity_rps": mono_rps[0],
             "p99_ms": 20.0, "memory_bytes": 128 * 2**20},
            {"replicas": 2, "scaled": "monolith-workers", "capacity_rps": mono_rps[1],
             "p99_ms": 19.0, "memory_bytes": 278 * 2**20},
        ],
    }  # fmt: skip


SWEEP = [
    {"model": m, "batch": b, "arch": a, "p50_ms": base * b ** 0.5 + (3 if a == "micro" else 0),
     "cpu_ms_per_request": base * b, "arch_share_of_latency": (0.5 if a == "micro" else 0.0) / b}
    for m, base in (("light", 1.0), ("heavy", 10.0))
    for b in (1, 8, 64)
    for a in ("monolith", "micro")
]  # fmt: skip

PLAN = {
    "model": {"features_ms": 1.5, "score_ms": 1.2},
    "validation_error": 0.08,
    "points": [
        {"cores": c, "arch": a, "max_rps": c * (400 if a == "monolith" else 180),
         "usd_per_million": 0.5 / c}
        for c in (1, 2, 4)
        for a in ("monolith", "micro")
    ],
}  # fmt: skip
