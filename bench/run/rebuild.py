"""summary.json from a run folder's raw files: what the harness writes at the end of a run, and
what `archbench report` rebuilds for a folder whose harness was killed before writing it.

A rebuilt summary is marked incomplete with the reason, and counts only the jobs whose raw
records were written in full (every raw file is written atomically, so a file that exists is
whole; a job killed mid-run has no latency.json or samples.json yet, and is left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analyse import bridge, capacity, cost, plan, summary
from bench.analyse import runs as analysis
from bench.analyse import update as updates
from bench.load.shapes import SCENARIOS
from bench.run import framework, scaling, sweep, update
from bench.run.faults import SCENARIO
from bench.store.folder import RunFolder, read_json
from stack.topology import Budget

SUMMARY_FILE = "summary.json"


def summarize(
    path: Path,
    archs: Sequence[str],
    scenarios: Sequence[str],
    slo_ms: float,
    budget: Budget,
    prices: cost.Prices,
    rate_rps: float | None,
    status: str,
    reason: str | None,
    complete_only: bool = False,
) -> dict[str, Any]:
    """summary.json, every figure derived from the folder's raw files."""
    runs = summary.scenario_runs(path, slo_ms, complete_only)
    # every load scenario that ran (the full profile adds ramp to the scenarios asked for)
    by_arch = analysis.aggregate(runs, archs, SCENARIOS)
    capacity.extend(by_arch, runs)
    out: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "rate_rps": rate_rps,
        "runs": runs,
        "by_arch": by_arch,
        "ratios": capacity.ratios(runs, archs),
    }
    if SCENARIO in scenarios:
        out["faults"] = summary.fault_entries(path, slo_ms)
    if update.SCENARIO in scenarios:
        out["update"] = updates.entries(path)
    validity = {k: s["validity"]["valid"] for k, s in runs.items()}
    figures = cost.summarize(path, archs, budget, prices, validity)
    if figures:
        out["cost"] = figures
    flask = framework.summarize(path, slo_ms)
    if flask is not None:
        out["framework"] = flask
    points = scaling.runs_of(path, slo_ms)
    if points:
        out["scaling"] = scaling.summarize(points)
    measured = sweep.runs_of(path, slo_ms)
    if measured:
        out["sweep"] = points = sweep.summarize(measured)
        out["sweep_crossover"] = sweep.crossover(points)
    if (path / bridge.RAW_FILE).is_file():
        out["bridge"] = bridge.summarize(read_json(path / bridge.RAW_FILE))
    planned = plan.from_summary(out, slo_ms, prices)
    if planned is not None:
        out["plan"] = planned
    return out


def rebuild(path: Path) -> dict[str, Any]:
    """Write summary.json for a folder that has meta.json but no summary (its harness was
    killed), from the raw records that are complete; returns it."""
    config = read_json(path / "meta.json")["config"]
    finished = [out for out, _ in summary.jobs(path, "scenario") if summary.complete(out)]
    rates = [job["rate_rps"] for _, job in summary.jobs(path, "scenario") if "rate_rps" in job]
    reason = (
        f"harness killed: no {SUMMARY_FILE}; rebuilt from {len(finished)} complete raw "
        f"run{'s' if len(finished) != 1 else ''}"
    )
    built = summarize(
        path,
        config["archs"],
        config["scenarios"],
        float(config["slo_ms"]),
        Budget(**config["budget"]),
        cost.load_prices(Path(config["prices"])),
        rates[-1] if rates else config.get("rate"),
        "incomplete",
        reason,
        complete_only=True,
    )
    RunFolder(path).write_json(SUMMARY_FILE, built)
    return built
