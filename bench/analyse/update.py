"""Model-update figures of one update run: pure functions of its per-request record
(requests.json, bench.measure.ledger) and the deploy's events (events.json, bench.run.deploy),
in raw/update/<arch>/<restart|rolling>/rep<N>/.

The entry this writes into summary.json["update"], one per update run:

    arch, variant, rep, key, services   what was deployed how, and which services restarted
    old_version, new_version            the bundle versions before and after
    deploy_window_s      [start, end] in seconds from the schedule's start; end null if the
                         deploy had not finished when the load ended
    deploy_s             end - start
    measured_s           [start, end] of the measured part: from the warm-up's end to when the
                         harness stopped the load, `tail_s` after the deploy
    requests             requests intended in the measured part
    failed               of them, answered otherwise than expected (or not at all, or shed)
    failed_in_window     of those, intended within the deploy window
    endpoints.<name>     per request name: requests, failed and success_rate in the window
    longest_gap_s        the longest time in the measured part without a successful prediction
                         (a 200 naming a model version), from the answers' times, the measured
                         part's start and end included as ends of gaps
    p99_before_ms        p99 latency (from intended send times) of the successful requests
                         intended before the deploy; p99_window_ms of those within it
    answers              per version named in a 200 /predict answer, how many
    first_new_s          when the first answer naming the new version came
    last_old_s           when the last answer naming the old version came
    overlap_s            last_old_s - first_new_s: how long both versions answered; negative
                         when none did both (a gap between them); null if either is missing
    mixed_answers        200 answers naming neither version alone (features of one version
                         with the estimator of another: pipeline.stages.score), and
    mixed_batch_answers  those of them to batch requests: both must be 0
    error                what went wrong with the deploy itself, if anything
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analyse import isolation
from bench.analyse.summary import jobs, read
from bench.run.update import REQUESTS_FILE, SCENARIO

BATCH_NAME = "predict-batch"


def entries(folder: Path) -> list[dict[str, Any]]:
    """summary.json's `update`: one entry per update run whose records were written in full."""
    out = []
    for raw, job in jobs(folder, SCENARIO):
        ledger_path, events_path = raw / REQUESTS_FILE, raw / "events.json"
        if ledger_path.exists() and events_path.exists():
            out.append(entry(read(ledger_path), read(events_path), job))
    return out


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (None of nothing): exact, as every raw value is kept."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def window(events: dict[str, Any], origin_unix: float) -> tuple[float | None, float | None]:
    """The deploy's start and end in seconds from `origin_unix` (None: not reached)."""
    at = {
        e["event"]: e["t_unix"] for e in events.get("events", []) if e["event"] in ("start", "end")
    }
    start, end = at.get("start"), at.get("end")
    return (
        None if start is None else start - origin_unix,
        None if end is None else end - origin_unix,
    )


def entry(ledger: dict[str, Any], events: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """One update run's figures (see the module docstring)."""
    run = events["run"]
    rows = ledger["requests"]
    old, new = events["old_version"], events["new_version"]
    measured_from = float(events["warmup_s"])
    start, end = window(events, ledger["start_unix"])
    every = [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)]
    stops = [e["t_unix"] for e in events.get("events", []) if e["event"] == "stop"]
    # the load ran until the deploy's tail was over (or until it was cut short)
    measured_to = (
        stops[0] - ledger["start_unix"]
        if stops
        else max((r["intended_s"] for r in every), default=measured_from)
    )
    requests = [r for r in every if measured_from <= r["intended_s"] <= measured_to]
    in_window = [
        r
        for r in requests
        if start is not None and start <= r["intended_s"] <= (end or measured_to)
    ]
    before = [r for r in requests if start is None or r["intended_s"] < start]
    answers: dict[str, int] = {}
    for r in requests:
        if r["status"] == 200 and r["version"] is not None:
            answers[r["version"]] = answers.get(r["version"], 0) + 1
    mixed = [r for r in requests if r["status"] == 200 and r["version"] not in (None, old, new)]
    first_new = _first(requests, new)
    last_old = _last(requests, old)
    return {
        "arch": run["arch"],
        "variant": run["variant"],
        "rep": run["rep"],
        "key": job["key"],
        "services": events["services"],
        "rate_rps": job.get("rate_rps"),
        "old_version": old,
        "new_version": new,
        "deploy_window_s": [start, end],
        "deploy_s": None if start is None or end is None else end - start,
        "measured_s": [measured_from, measured_to],
        "requests": len(requests),
        "failed": sum(not r["ok"] for r in requests),
        "failed_in_window": sum(not r["ok"] for r in in_window),
        "endpoints": _endpoints(in_window),
        "longest_gap_s": _longest_gap(requests, measured_from, measured_to),
        "p99_before_ms": percentile([r["latency_ms"] for r in before if r["ok"]], 99),
        "p99_window_ms": percentile([r["latency_ms"] for r in in_window if r["ok"]], 99),
        "answers": answers,
        "first_new_s": first_new,
        "last_old_s": last_old,
        "overlap_s": None if first_new is None or last_old is None else last_old - first_new,
        "mixed_answers": len(mixed),
        "mixed_batch_answers": sum(r["name"] == BATCH_NAME for r in mixed),
        "error": events.get("error"),
    }


def _done_s(r: dict[str, Any]) -> float:
    return float(r["intended_s"] + r["latency_ms"] / 1000)


def _first(requests: list[dict[str, Any]], version: str) -> float | None:
    times = [_done_s(r) for r in requests if r["status"] == 200 and r["version"] == version]
    return min(times) if times else None


def _last(requests: list[dict[str, Any]], version: str) -> float | None:
    times = [_done_s(r) for r in requests if r["status"] == 200 and r["version"] == version]
    return max(times) if times else None


def _longest_gap(requests: list[dict[str, Any]], start_s: float, end_s: float) -> float:
    """The longest time between successful predictions' answers, the measured ends included."""
    done = sorted(_done_s(r) for r in requests if r["status"] == 200 and r["version"] is not None)
    edges = [start_s, *(t for t in done if start_s <= t <= end_s), end_s]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


def _endpoints(in_window: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in sorted({r["name"] for r in in_window}):
        mine = [r for r in in_window if r["name"] == name]
        failed = sum(not r["ok"] for r in mine)
        out[name] = {
            "requests": len(mine),
            "failed": failed,
            "success_rate": 1 - failed / len(mine),
        }
    return out


def spared_success(entry: dict[str, Any]) -> float | None:
    """The lowest success during the deploy of the endpoints that need none of the stages it
    restarted (None: the whole application restarted, or no such endpoint was called)."""
    if entry["arch"] == "monolith":
        return None
    stages = {s.split("-")[0] for s in entry["services"]}
    rates = [
        figures["success_rate"]
        for name, figures in entry["endpoints"].items()
        if not any(isolation.needs_stage(name, stage) for stage in stages)
    ]
    return min(rates) if rates else None


def evidence(entry: dict[str, Any]) -> str:
    """One line of what a deploy did to the load."""

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f} ms"

    rolled_workers = entry["variant"] == "rolling" and entry["arch"] == "monolith"
    what = "the app's workers" if rolled_workers else ", ".join(entry["services"])
    took = "unfinished" if entry["deploy_s"] is None else f"{entry['deploy_s']:.1f} s"
    overlap = entry["overlap_s"]
    both = "n/a" if overlap is None else f"{max(0.0, overlap):.1f} s"
    spared = spared_success(entry)
    rest = "" if spared is None else f"; the endpoints that skip it answered {spared:.0%}"
    return (
        f"{entry['arch']} {entry['variant']} ({what}, {took}): {entry['failed_in_window']} of "
        f"{sum(e['requests'] for e in entry['endpoints'].values())} requests failed during the "
        f"deploy, longest gap without a prediction {entry['longest_gap_s']:.2f} s, p99 "
        f"{ms(entry['p99_before_ms'])} before → {ms(entry['p99_window_ms'])} during, both "
        f"versions answering for {both}, {entry['mixed_answers']} mixed answers{rest}"
    )
