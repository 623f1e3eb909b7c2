"""Figures from a scenario's raw latency record: pure functions of the data, no I/O.

Everything a summary or a report shows is derived here from the record that the Locust process
wrote, so any number can be traced back to the raw histograms and counters.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.load import shapes
from bench.load.shapes import Schedule
from bench.measure import hdr, latency

MAX_GENERATOR_CPU_SHARE = 0.90
MAX_RATE_SHORTFALL = 0.05
MAX_LATE_MS = 10.0
MAX_ERROR_RATE = 0.01
MAX_SUT_FOREIGN_SHARE = 0.05
MAX_GENERATOR_FOREIGN_SHARE = 0.10


def schedule_of(record: dict[str, Any]) -> Schedule | None:
    data = record.get("schedule")
    return Schedule.from_json(data) if data else None


def all_bins(record: dict[str, Any]) -> list[int]:
    return sorted({c["bin"] for c in record["counts"]})


def measured_bins(
    record: dict[str, Any], start_s: float | None = None, end_s: float | None = None
) -> list[int]:
    """Bins whose middle lies in [start_s, end_s); by default the schedule after warm-up."""
    bin_s = record["bin_s"]
    schedule = schedule_of(record)
    if start_s is None:
        start_s = schedule.warmup_s if schedule else 0.0
    if end_s is None:
        end_s = schedule.duration_s if schedule else math.inf
    return [b for b in all_bins(record) if start_s <= (b + 0.5) * bin_s < end_s]


def merged(
    record: dict[str, Any], kind: str, bins: Iterable[int], name: str | None = None
) -> HdrHistogram:
    """One histogram of `kind` over the bins, for one request name or all of them."""
    wanted = set(bins)
    total = latency.histogram()
    for h in record["histograms"]:
        if h["kind"] == kind and h["bin"] in wanted and (name is None or h["name"] == name):
            total.add(latency.decode(h["hist"]))
    return total


def counts(record: dict[str, Any], bins: Iterable[int], name: str | None = None) -> dict[str, int]:
    wanted = set(bins)
    total = {"sent": 0, "ok": 0, "failed": 0, "shed": 0}
    for c in record["counts"]:
        if c["bin"] in wanted and (name is None or c["name"] == name):
            for key in total:
                total[key] += c[key]
    return total


def answered(record: dict[str, Any]) -> int:
    """Requests answered (correctly or not) in the measured window: what resources are per."""
    c = counts(record, measured_bins(record))
    return c["ok"] + c["failed"]


def error_rate(c: dict[str, int]) -> float:
    return (c["failed"] + c["shed"]) / c["sent"] if c["sent"] else 0.0


def window(record: dict[str, Any], bins: Sequence[int]) -> dict[str, Any]:
    """Latency and throughput over some bins, for every request name and all together."""
    bin_s = record["bin_s"]
    span_s = len(bins) * bin_s
    names = sorted({c["name"] for c in record["counts"]})
    out: dict[str, Any] = {}
    for name in [*names, None]:
        c = counts(record, bins, name)
        out[name or "all"] = {
            **c,
            "error_rate": error_rate(c),
            "throughput_rps": (c["ok"] + c["failed"]) / span_s if span_s else 0.0,
            "intended_ms": latency.summary_ms(merged(record, "intended", bins, name)),
            "service_ms": latency.summary_ms(merged(record, "service", bins, name)),
        }
    return out


@dataclass(frozen=True)
class Validity:
    """Whether the generator kept its schedule; a run failing any check is invalid."""

    valid: bool
    reasons: list[str]
    generator_cpu_share: float | None
    scheduled_rps: float | None
    achieved_rps: float | None
    late_p99_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validity(
    record: dict[str, Any],
    resources: dict[str, Any] | None = None,
    max_cpu_share: float = MAX_GENERATOR_CPU_SHARE,
    max_shortfall: float = MAX_RATE_SHORTFALL,
    max_late_ms: float = MAX_LATE_MS,
) -> Validity:
    """Check the generator's CPU, its achieved rate against the schedule, schedule slip, and
    (given the resource figures) that nothing else ran on either side's CPU."""
    reasons = []
    for key, side, limit in (
        ("sut_foreign_share", "system-under-test", MAX_SUT_FOREIGN_SHARE),
        ("generator_foreign_share", "load generator's", MAX_GENERATOR_FOREIGN_SHARE),
    ):
        foreign = (resources or {}).get(key)
        if foreign is not None and foreign > limit:
            reasons.append(f"other work used {foreign:.0%} of the {side} CPU (limit {limit:.0%})")
    cpu_s, wall_s = record.get("generator_cpu_s"), record.get("measured_wall_s")
    share = cpu_s / wall_s if cpu_s is not None and wall_s else None
    if share is None:
        reasons.append("no generator CPU measurement")
    elif share >= max_cpu_share:
        reasons.append(f"load generator CPU at {share:.0%} of its core (limit {max_cpu_share:.0%})")
    if not record.get("completed"):
        reasons.append("the scenario did not complete")
    schedule = schedule_of(record)
    scheduled = achieved = late_p99 = None
    if schedule is not None and wall_s:
        # Scheduled and sent are counted over the same whole bins (a measured part that is not
        # a whole number of bins leaves its last fraction out of both).
        bins = measured_bins(record)
        bin_s = record["bin_s"]
        wanted, span_s = set(bins), max(len(bins) * bin_s, bin_s)
        planned = sum(
            1
            for t in planned_arrivals(record)
            if t >= schedule.warmup_s and int(t // bin_s) in wanted
        )
        scheduled = planned / span_s
        issued = counts(record, bins)["sent"]
        # Time the scheduler spent waiting for the in-flight bound is the server's doing.
        measured_s = schedule.duration_s - schedule.warmup_s
        stretch = max(wall_s - record.get("blocked_s", 0.0), measured_s) / measured_s
        achieved = issued / (span_s * stretch)
        if achieved < scheduled * (1 - max_shortfall):
            reasons.append(
                f"achieved {achieved:.1f} req/s, short of the scheduled {scheduled:.1f} by more "
                f"than {max_shortfall:.0%}"
            )
        lateness = latency.decode(record["lateness"])
        if lateness.get_total_count():
            late_p99 = hdr.percentile(lateness, 99.0) / 1e3
            if late_p99 > max_late_ms:
                reasons.append(
                    f"schedule slipped: p99 send delay {late_p99:.1f} ms > {max_late_ms} ms"
                )
    reasons += worker_reasons(record, max_cpu_share, max_shortfall, max_late_ms)
    return Validity(not reasons, reasons, share, scheduled, achieved, late_p99)


def planned_arrivals(record: dict[str, Any]) -> Iterable[float]:
    """The arrivals the run planned: its own, or the sum of its Locust workers' (each worker a
    Poisson process of its own: bench.load.distributed_records)."""
    for part in record.get("workers") or [record]:
        schedule = schedule_of(part)
        if schedule is not None:
            yield from shapes.arrivals(schedule, part["payload_seed"])


def worker_reasons(record: dict[str, Any], *limits: float) -> list[str]:
    """A distributed run's workers judged one by one (CPU, send slippage, achieved rate): one
    saturated, stopped or lost worker invalidates the whole."""
    reasons = []
    for worker in record.get("workers") or []:
        index = worker["worker_index"]
        if worker.get("missing"):
            reasons.append(f"worker {index} sent no record (stopped, lost or cut short)")
            continue
        reasons += [f"worker {index}: {r}" for r in validity(worker, None, *limits).reasons]
    return reasons + shared_core_reasons(record.get("workers") or [], limits[0])


def shared_core_reasons(workers: list[dict[str, Any]], max_cpu_share: float) -> list[str]:
    """Workers on the same cores judged together: two at 50% of one core saturate it, though
    neither alone reaches the limit."""
    groups: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    for worker in workers:
        cpus = tuple(worker.get("generator_cpus") or ())
        if cpus and not worker.get("missing"):
            groups.setdefault(cpus, []).append(worker)
    reasons = []
    for cpus, mine in groups.items():
        shares = [
            w["generator_cpu_s"] / w["measured_wall_s"]
            for w in mine
            if w.get("generator_cpu_s") is not None and w.get("measured_wall_s")
        ]
        if len(shares) < 2:
            continue
        load = sum(shares) / len(cpus)
        if load >= max_cpu_share:
            named = ", ".join(str(w["worker_index"]) for w in mine)
            reasons.append(
                f"workers {named} share CPU {', '.join(map(str, cpus))}: together at {load:.0%} "
                f"of {'it' if len(cpus) == 1 else 'them'} (limit {max_cpu_share:.0%})"
            )
    return reasons


def over_time(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per bin: offered requests, errors, and intended/service p50 and p99 (all names)."""
    rows = []
    for b in all_bins(record):
        c = counts(record, [b])
        intended = latency.summary_ms(merged(record, "intended", [b]))
        service = latency.summary_ms(merged(record, "service", [b]))
        rows.append(
            {
                "t_s": b * record["bin_s"],
                "sent": c["sent"],
                "error_rate": error_rate(c),
                "intended_p50_ms": intended.get("p50"),
                "intended_p99_ms": intended.get("p99"),
                "service_p50_ms": service.get("p50"),
                "service_p99_ms": service.get("p99"),
            }
        )
    return rows


def spike_recovery(record: dict[str, Any], tolerance: float = 1.5) -> dict[str, Any] | None:
    """How the spike hit latency and how long after it ended the p99 came back.

    The baseline is the p99 before the spike (after warm-up); recovered is the first one-second
    bin after the spike whose p99 is within `tolerance` times the baseline (or 5 ms above it).
    """
    schedule = schedule_of(record)
    if schedule is None or len(schedule.steps) != 3:
        return None
    before, burst, _ = schedule.steps
    base = merged(record, "intended", measured_bins(record, schedule.warmup_s, before.end_s))
    peak = merged(record, "intended", measured_bins(record, burst.start_s, burst.end_s))
    if base.get_total_count() == 0:
        return None
    baseline_ms = hdr.percentile(base, 99.0) / 1e3
    limit_ms = max(baseline_ms * tolerance, baseline_ms + 5.0)
    recovered_s = None
    for b in measured_bins(record, burst.end_s, schedule.duration_s):
        p99 = latency.summary_ms(merged(record, "intended", [b])).get("p99")
        if p99 is not None and p99 <= limit_ms:
            recovered_s = max(0.0, b * record["bin_s"] - burst.end_s)
            break
    return {
        "baseline_p99_ms": baseline_ms,
        "spike_p99_ms": hdr.percentile(peak, 99.0) / 1e3 if peak.get_total_count() else None,
        "recovered_after_s": recovered_s,
    }


def stage_means(record: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Mean Server-Timing entry (ms) per request name, from successful measured requests."""
    out = {}
    for name, sums in record.get("timings", {}).items():
        n = sums.get("n", 0)
        if n:
            out[name] = {k: v / n for k, v in sums.items() if k != "n"}
    return out


def summarize(
    record: dict[str, Any], slo_ms: float, resources: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The summary of one scenario run; `resources` (from bench.measure.resources.derive) are
    included and their contention figures count towards validity. A capacity run's own figures
    are bench.analyse.capacity's."""
    summary: dict[str, Any] = {
        "scenario": record["scenario"],
        "validity": validity(record, resources).as_dict(),
        "resources": resources,
        "measured": window(record, measured_bins(record)),
        "over_time": over_time(record),
        "stage_ms": stage_means(record),
        "capped": record.get("capped", 0),
    }
    if record["scenario"] == "spike":
        summary["recovery"] = spike_recovery(record)
    return summary


def spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median, min and max over repetitions (missing values left out)."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": statistics.median(present),
        "min": min(present),
        "max": max(present),
        "n": len(present),
    }


def aggregate(
    summaries: dict[str, dict[str, Any]], archs: Sequence[str], scenarios: Sequence[str]
) -> dict[str, Any]:
    """Per architecture and scenario: median and spread of the headline figures over the
    repetitions. For `capacity`, latency and throughput are those of the trial at capacity."""
    out: dict[str, Any] = {}
    for arch in archs:
        for scenario in scenarios:
            runs = [s for k, s in summaries.items() if k.startswith(f"{scenario}/{arch}/")]
            if not runs:
                continue
            measured = [(r.get("measured") or {}).get("all", {}) for r in runs]
            used = [r.get("resources") or {} for r in runs]
            figures: dict[str, list[Any]] = {
                "p50_ms": [m.get("intended_ms", {}).get("p50") for m in measured],
                "p99_ms": [m.get("intended_ms", {}).get("p99") for m in measured],
                "throughput_rps": [m.get("throughput_rps") for m in measured],
                "error_rate": [m.get("error_rate") for m in measured],
                "cpu_ms_per_request": [u.get("cpu_ms_per_request") for u in used],
                "memory_bytes": [u.get("cgroup_memory_bytes_max") for u in used],
            }
            if scenario == "capacity":
                best = [r.get("at_capacity") or {} for r in runs]
                figures["capacity_rps"] = [r.get("capacity_rps") for r in runs]
                figures["p50_ms"] = [b.get("p50_ms") for b in best]
                figures["p99_ms"] = [b.get("p99_ms") for b in best]
                figures["throughput_rps"] = [b.get("achieved_rps") for b in best]
                figures["error_rate"] = [b.get("error_rate") for b in best]
            out.setdefault(arch, {})[scenario] = {
                "runs": len(runs),
                "invalid_runs": sum(1 for r in runs if not r["validity"]["valid"]),
                **{k: spread(v) for k, v in figures.items()},
            }
    return out
