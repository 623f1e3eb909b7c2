"""Failure-isolation figures of one fault run: pure functions of its latency record and the
injection's events (raw/faults/<arch>/<fault>-<stage>-<plain|resilient>/rep<N>/).

The entry this writes into summary.json["faults"] (the run-folder contract, plus added keys):

    arch, fault, stage, resilience, rep, rate_rps
    fault_window_s          [start, end] in seconds from the measured start; end null if the
                            fault had not ended (the process was not back) when the run did
    restart_s               crash: kill to ready again; leak: death to ready again; else null
    killed_by_memory_limit  leak: the kernel's OOM killer of the service's memory cgroup killed
                            it; else null
    endpoints.<name>        per Locust request name (predict, predict-batch, validate):
        needs_stage, requests, failed (errors and shed requests, not degraded answers),
        degraded (the gateway's 203 fallback answers), shed (dropped by the generator),
        success_rate_during_fault, success_rate_overall, time_to_first_error_s, recovery_s,
        p99_during_fault_ms
    kept_serving.<name>     for endpoints that do not need the stage: during the fault at least
                            99% answered as asked AND their p99 within the SLO (an endpoint
                            whose answers came seconds late did not keep serving)
    timeline                1-s bins: t_s (from the measured start), name, ok, failed,
                            degraded, p50_ms, p99_ms (from intended send times)
    validity                {valid, reasons}: the generator's checks, and the fault's own
    params, service, key    the fault's figures, the process it hit, the raw folder's key

"During the fault" means the 1-s bins whose middle lies in the window (at least the bin where
it starts). Success is an answer with the expected status (200, or 422 for invalid records).
Recovery is from the window's end to the first bin back at >= 99% success with p99 <= SLO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.analyse import runs as analysis
from bench.load.payloads import DEFAULT_MIX
from bench.measure import latency
from serving.api import ENDPOINTS

MIN_SUCCESS = 0.99


def needs_stage(name: str, stage: str) -> bool:
    """Whether requests of this name pass through the stage."""
    path = DEFAULT_MIX[name][0]
    endpoint = next(e for e in ENDPOINTS if e.path == path)
    return any(s.name == stage for s in endpoint.stages)


def window(injection: dict[str, Any]) -> tuple[float | None, float | None]:
    """Start and end of the fault in seconds from the schedule's start (None: not reached)."""
    origin = injection.get("schedule_start_unix")
    events = {e["event"]: e for e in injection["events"]}
    if origin is None or "start" not in events:
        return None, None
    start = events["start"]["t_unix"] - origin
    end_event = events.get("end")
    if end_event is None:
        return start, None
    restart = end_event.get("restart")
    end_unix = restart["ready_unix"] if restart else end_event["t_unix"]
    return start, end_unix - origin


def restart_figures(injection: dict[str, Any]) -> tuple[float | None, bool | None]:
    """(restart_s, killed_by_memory_limit) for crash and leak; (None, None) otherwise."""
    fault = injection["run"]["fault"]
    if fault not in ("crash", "leak"):
        return None, None
    events = {e["event"]: e for e in injection["events"]}
    restart = (events.get("end") or {}).get("restart")
    if restart is None:
        return None, False if fault == "leak" else None
    if fault == "crash":
        return restart["ready_unix"] - events["start"]["t_unix"], None
    return restart["restart_s"], bool(restart["killed_by_memory_limit"])


def _bins_during(record: dict[str, Any], start: float, end: float | None) -> list[int]:
    bin_s = record["bin_s"]
    stop = end if end is not None else analysis.schedule_of(record).duration_s  # type: ignore[union-attr]
    bins = analysis.measured_bins(record, start, stop)
    return bins or [int(start // bin_s)]


def _p99(record: dict[str, Any], bins: Sequence[int], name: str) -> float | None:
    return latency.summary_ms(analysis.merged(record, "intended", bins, name)).get("p99")


def _rate(c: dict[str, int]) -> float | None:
    return c["ok"] / c["sent"] if c["sent"] else None


def _good(record: dict[str, Any], b: int, name: str, slo_ms: float) -> bool:
    c = analysis.counts(record, [b], name)
    rate, p99 = _rate(c), _p99(record, [b], name)
    return rate is not None and rate >= MIN_SUCCESS and p99 is not None and p99 <= slo_ms


def endpoint(
    record: dict[str, Any], name: str, stage: str, start: float, end: float | None, slo_ms: float
) -> dict[str, Any]:
    """The figures of one request name around the fault (times in schedule seconds in, seconds
    from the fault's start or end out)."""
    measured = analysis.measured_bins(record)
    during = _bins_during(record, start, end)
    overall, inside = analysis.counts(record, measured, name), analysis.counts(record, during, name)
    degraded = sum(c.get("degraded", 0) for c in record["counts"] if c["name"] == name)
    first = next((t for t in record.get("failure_times_s", {}).get(name, []) if t >= start), None)
    recovery = None
    if end is not None:
        bin_s = record["bin_s"]
        after = [b for b in measured if (b + 1) * bin_s > end]
        back = next((b for b in after if _good(record, b, name, slo_ms)), None)
        recovery = None if back is None else max(0.0, back * bin_s - end)
    return {
        "needs_stage": needs_stage(name, stage),
        "requests": overall["sent"],
        "failed": overall["failed"] - degraded + overall["shed"],
        "degraded": degraded,
        "shed": overall["shed"],
        "success_rate_during_fault": _rate(inside),
        "success_rate_overall": _rate(overall),
        "time_to_first_error_s": None if first is None else first - start,
        "recovery_s": recovery,
        "p99_during_fault_ms": _p99(record, during, name),
    }


def timeline(record: dict[str, Any], warmup_s: float) -> list[dict[str, Any]]:
    """Per measured 1-s bin and request name: answers and intended-latency percentiles."""
    rows = []
    by_key = {(c["name"], c["bin"]): c for c in record["counts"]}
    for b in analysis.measured_bins(record):
        for name in sorted({c["name"] for c in record["counts"]}):
            c = by_key.get((name, b), {"ok": 0, "failed": 0, "shed": 0, "degraded": 0})
            figures = latency.summary_ms(analysis.merged(record, "intended", [b], name))
            rows.append(
                {
                    "t_s": b * record["bin_s"] - warmup_s,
                    "name": name,
                    "ok": c["ok"],
                    "failed": c["failed"] - c.get("degraded", 0) + c["shed"],
                    "degraded": c.get("degraded", 0),
                    "p50_ms": figures.get("p50"),
                    "p99_ms": figures.get("p99"),
                }
            )
    return rows


def entry(
    record: dict[str, Any] | None,
    injection: dict[str, Any],
    slo_ms: float,
    rate_rps: float,
    resources: dict[str, Any] | None = None,
    key: str = "",
) -> dict[str, Any]:
    """The summary.json["faults"] entry of one fault run (record None: Locust wrote none)."""
    run, warmup_s = injection["run"], injection["warmup_s"]
    start, end = window(injection)
    if record is None:
        reasons = ["Locust wrote no record; see locust.log"]
        record = {"counts": [], "histograms": [], "bin_s": 1.0}
    else:
        reasons = list(analysis.validity(record, resources).reasons)
    if injection.get("error"):
        reasons.append(injection["error"])
    if not injection.get("settled", True):
        reasons.append("the stack was not serving normally when the run began")
    endpoints: dict[str, Any] = {}
    if start is None:
        reasons.append("the fault was never injected")
    else:
        if end is None:
            reasons.append("the fault had not ended (the process was not back) when the run did")
        for name in sorted({c["name"] for c in record["counts"]}):
            endpoints[name] = endpoint(record, name, run["stage"], start, end, slo_ms)
            if endpoints[name]["shed"] and not endpoints[name]["needs_stage"]:
                reasons.append(f"the generator shed {name} requests: its in-flight bound was hit")
    restart_s, killed = restart_figures(injection)
    config = injection["config"]
    return {
        "arch": run["arch"],
        "fault": run["fault"],
        "stage": run["stage"],
        "resilience": run["resilience"],
        "rep": run["rep"],
        "rate_rps": rate_rps,
        "fault_window_s": [
            None if start is None else start - warmup_s,
            None if end is None else end - warmup_s,
        ],
        "restart_s": restart_s,
        "killed_by_memory_limit": killed,
        "endpoints": endpoints,
        "kept_serving": {
            name: bool(
                (e["success_rate_during_fault"] or 0) >= MIN_SUCCESS
                and e["p99_during_fault_ms"] is not None
                and e["p99_during_fault_ms"] <= slo_ms
            )
            for name, e in endpoints.items()
            if not e["needs_stage"]
        },
        "timeline": timeline(record, warmup_s),
        "validity": {"valid": not reasons, "reasons": reasons},
        "params": {
            "slo_ms": slo_ms,
            "slow_ms": config["slow_ms"],
            "error_share": config["error_share"],
            "leak_mib_per_s": config["leak_mib_per_s"],
        },
        "service": injection.get("service"),
        "key": key,
    }
