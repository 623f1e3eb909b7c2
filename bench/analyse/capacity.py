"""Capacity from a capacity run's raw record, and how far repetitions agree: pure functions.

Each trial of the search (bench.load.search) is re-judged from the record's histograms, so the
capacity does not rest on what the Locust process decided while it ran. Per repetition the
search gives a capacity and a bracket; per architecture the repetitions give a median with an
interval (bench.analyse.interval), and per pair of architectures a ratio with its interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from bench.analyse import interval
from bench.analyse import runs as analysis
from bench.load.search import SearchConfig, Trial, judge, outcome

# Repetitions whose capacities spread more than this share of their median are flagged: the
# machine or the stack did not hold still long enough for one figure to stand for them.
MAX_SPREAD = 0.25


def search_config(record: Mapping[str, Any], slo_ms: float) -> SearchConfig:
    """The search's settings as the record names them, judged against `slo_ms`."""
    known = {f.name for f in fields(SearchConfig)}
    given = {k: v for k, v in (record.get("search") or {}).items() if k in known}
    return SearchConfig(**{**given, "slo_ms": slo_ms})


def trials(record: Mapping[str, Any], slo_ms: float) -> list[Trial]:
    """Every measured trial of a capacity schedule, in the order run, re-judged from its bins."""
    schedule = analysis.schedule_of(dict(record))
    if schedule is None:
        return []
    config = search_config(record, slo_ms)
    out = []
    for step in schedule.steps:
        if step.rate <= 0 or step.end_s <= schedule.warmup_s:
            continue
        bins = analysis.measured_bins(dict(record), step.start_s, step.end_s)
        if not bins:
            continue
        w = analysis.window(dict(record), bins)["all"]
        p99 = w["intended_ms"].get("p99", math.inf)
        p50 = w["intended_ms"].get("p50", math.inf)
        passed = judge(p99, w["error_rate"], config)
        out.append(Trial(step.rate, w["sent"], w["throughput_rps"], p50, p99, w["error_rate"],
                         passed))  # fmt: skip
    return out


def envelope(tried: Sequence[Trial]) -> tuple[float | None, float | None]:
    """The bracket that every trial agrees with: the highest passing rate below every failing
    trial, and the lowest failing rate above every passing one. Noise widens it, as it should."""
    fails = [t.rate for t in tried if not t.passed]
    passes = [t.rate for t in tried if t.passed]
    low = max((p for p in passes if not fails or p < min(fails)), default=None)
    high = min((f for f in fails if not passes or f > max(passes)), default=None)
    return low, high


def summarize(record: Mapping[str, Any], slo_ms: float) -> dict[str, Any]:
    """A capacity run's figures: its trials, the capacity with its bracket and bound, the trial
    that sets it, and the closed-loop probe's saturation throughput."""
    tried = trials(record, slo_ms)
    summary = summary_of(tried, search_config(record, slo_ms))
    return {"saturation_rps": record.get("estimate_rps"), **summary}


def summary_of(tried: Sequence[Trial], config: SearchConfig) -> dict[str, Any]:
    """The capacity figures of one search's trials (see `summarize`)."""
    result = outcome(tried, config)
    low, high = envelope(tried)
    best = [t for t in tried if t.passed and t.rate == result.capacity_rps]
    return {
        "steps": [asdict(t) for t in tried],
        "capacity_rps": result.capacity_rps,
        "capacity_low_rps": low,
        "capacity_high_rps": high,
        "capacity_bound": result.bound,
        "capacity_converged": result.converged,
        "capacity_confirmed": result.confirmed,
        "capacity_noisy": result.noisy,
        "at_capacity": asdict(best[-1]) if best else None,
    }


def figures(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """by_arch[arch]["capacity"]'s own figures over repetitions: the capacity's median with its
    interval, its bracket ends, bounds, spread flag, saturation, and the calibrated multiple."""
    caps = [r.get("capacity_rps") for r in runs]
    present = [c for c in caps if c is not None]
    lows = [r.get("capacity_low_rps") or 0.0 for r in runs]
    highs = [r.get("capacity_high_rps") for r in runs]
    spread: dict[str, Any] = dict(analysis.spread(caps))
    if present:
        # The interval: the repetitions' spread of the bracket's ends (their medians' bootstrap
        # intervals), so that both a search's own noise and drift between searches widen it.
        low = interval.median_interval(lows)
        high = interval.median_interval([h for h in highs if h is not None])
        spread["low"] = low[1] if low else None
        spread["high"] = high[2] if high and None not in highs else None
        spread["relative_spread"] = (max(present) - min(present)) / statistics.median(present)
    spread["bounds"] = sorted({r.get("capacity_bound") or "none" for r in runs})
    return {
        "capacity_rps": spread,
        "saturation_rps": analysis.spread([r.get("saturation_rps") for r in runs]),
        "calibration_rps": analysis.spread([r.get("calibration_rps") for r in runs]),
        "capacity_multiple": analysis.spread([r.get("capacity_multiple") for r in runs]),
        "spread_flag": bool(present) and (spread.get("relative_spread") or 0.0) > MAX_SPREAD,
    }


def extend(by_arch: dict[str, Any], runs: Mapping[str, Mapping[str, Any]]) -> None:
    """Add each architecture's capacity figures (`figures`) to bench.analyse.runs.aggregate's
    capacity entries."""
    for arch, scenarios in by_arch.items():
        entry = scenarios.get("capacity")
        if entry is not None:
            mine = [s for k, s in runs.items() if k.startswith(f"capacity/{arch}/")]
            entry.update(figures(mine))


def common_rate(
    runs: Mapping[str, Mapping[str, Any]], archs: Sequence[str], fraction: float
) -> float | None:
    """The steady rate: `fraction` of the lower end of the lowest capacity's interval, so that
    one lucky search cannot push the common load into overload; None without a capacity."""
    lows = []
    for arch in archs:
        mine = [s for k, s in runs.items() if k.startswith(f"capacity/{arch}/")]
        spread = figures(mine)["capacity_rps"]
        # A search whose lowest trial failed has no envelope low, and the interval then starts
        # at 0: the lowest search's capacity is the cautious rate then, never the median.
        lows.append(spread.get("low") or spread["min"])
    known = [low for low in lows if low]
    return round(min(known) * fraction, 1) if known else None


def calibrated(summary: dict[str, Any], calibration_rps: float | None) -> None:
    """Add the in-process calibration measured beside the run, and the capacity as a multiple of
    it: a figure that travels across machines and across this VM's changes of speed."""
    summary["calibration_rps"] = calibration_rps
    capacity = summary.get("capacity_rps")
    summary["capacity_multiple"] = (
        capacity / calibration_rps if capacity is not None and calibration_rps else None
    )


def ratios(
    runs: Mapping[str, Mapping[str, Any]], archs: Sequence[str], base: str = "monolith"
) -> dict[str, Any]:
    """Each architecture's capacity over the base's, paired by repetition (the two ran back to
    back, so drift hits both), as a median with its interval; also for the calibrated multiple."""
    out: dict[str, Any] = {}
    by_rep: dict[str, dict[str, Mapping[str, Any]]] = {}
    for key, summary in runs.items():
        scenario, arch, rep = key.split("/")
        if scenario == "capacity":
            by_rep.setdefault(arch, {})[rep] = summary
    if base not in by_rep:
        return out
    for arch in archs:
        if arch == base or arch not in by_rep:
            continue
        entry = {}
        for figure in ("capacity_rps", "capacity_multiple"):
            pairs = [
                (mine.get(figure), by_rep[base][rep].get(figure))
                for rep, mine in sorted(by_rep[arch].items())
                if rep in by_rep[base]
            ]
            known = [(float(a), float(b)) for a, b in pairs if a is not None and b]
            found = interval.ratio_interval([a for a, _ in known], [b for _, b in known])
            entry[figure] = (
                {"median": found[0], "low": found[1], "high": found[2], "n": len(known)}
                if found
                else None
            )
        out[f"{arch}/{base}"] = entry
    return out
