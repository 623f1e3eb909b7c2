"""The report's model-update section, from summary["update"] (bench.analyse.update) and each
run's per-request record: a table of what each way of deploying did to the load, and the
requests of every run over time."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from bench.analyse.update import spared_success
from bench.report.console import number, share
from bench.report.document import Cell, Figure, Paragraph, Section, Table
from bench.report.figures import update as draw
from bench.run.update import REQUESTS_FILE, VARIANTS
from bench.store.stored import StoredRun

TITLE, ANCHOR = "Model update under load", "update"


def update_section(run: StoredRun) -> Section:
    entries = run.summary.get("update") or []
    if not entries:
        text = (
            "Not run: `archbench bench --scenario update` deploys a new model version under load."
        )
        return Section(TITLE, ANCHOR, (Paragraph(text),))
    first = entries[0]
    text = (
        f"Under the steady load, version {first['new_version']} of the model (other weights, "
        f"the same schema and preprocessing) replaced {first['old_version']}: the monolith "
        "restarted, or its workers reloaded one at a time (uvicorn, SIGHUP); the microservices "
        "restarted `score` alone, or its two replicas one at a time, the gateway sending a "
        "refused call to the other replica. Every request is recorded with the version its "
        "answer named; the figures are computed from those records."
    )
    archs = sorted({e["arch"] for e in entries}, key=lambda a: (a != "monolith", a))
    panels: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]] | None] = {}
    for entry in entries:
        if entry.get("rep", 0) == 0:
            path = run.path / "raw" / entry["key"] / REQUESTS_FILE
            panels[(entry["arch"], entry["variant"])] = (entry, json.loads(path.read_text()))
    variants = [v for v in VARIANTS if any(e["variant"] == v for e in entries)]
    figure = Figure(
        "update-timeline",
        "Every request of each update run at its intended time from the deploy's start and its "
        "latency: answers of the old and the new version, other successes, failures (drawn at "
        f"{draw.FLOOR_MS:g} ms when refused at once); grey: the deploy.",
        partial(draw.timelines, panels, archs, variants),
    )
    return Section(TITLE, ANCHOR, (Paragraph(text), _table(entries), figure))


def _table(entries: list[dict[str, Any]]) -> Table:
    rows = []
    for e in sorted(entries, key=lambda e: (e["arch"] != "monolith", e["arch"], e["variant"])):
        in_window = sum(f["requests"] for f in e["endpoints"].values())
        overlap = e["overlap_s"]
        flags = (f"deploy failed: {e['error']}",) if e.get("error") else ()
        rows.append(
            (
                Cell(f"{e['arch']} {e['variant']}", flags),
                Cell(", ".join(e["services"])),
                Cell(number(e["deploy_s"], unit=" s", missing="unfinished")),
                Cell(f"{e['failed_in_window']} of {in_window}"),
                Cell(share(spared_success(e), missing="–")),
                Cell(number(e["longest_gap_s"], 2, unit=" s")),
                Cell(f"{number(e['p99_before_ms'], 0)} → {number(e['p99_window_ms'], 0)} ms"),
                Cell("–" if overlap is None else number(max(0.0, overlap), unit=" s")),
                Cell(f"{e['mixed_answers']} ({e['mixed_batch_answers']} batch)"),
            )
        )
    columns = ("deploy", "restarted", "took", "failed during it", "endpoints that skip it",
               "longest gap without a prediction", "p99 before → during",
               "both versions answering", "mixed-version answers")  # fmt: skip
    caption = (
        "During the deploy (from the new version's swap to the last service ready): failed "
        "requests, the success of the endpoints that need none of the restarted services, the "
        "longest time without a successful prediction, p99 of successes from intended send "
        "times; then how long answers of both versions came (last old minus first new, 0 when "
        "none overlapped) and answers that mixed versions (must be 0)."
    )
    return Table(columns, tuple(rows), caption)
