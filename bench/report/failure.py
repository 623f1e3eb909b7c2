"""The report's failure-isolation section, from summary["faults"] (one entry per architecture,
fault, stage, resilience setting and repetition; see the run-folder contract): the fault matrix,
recovery times, and a timeline of each fault kind."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from functools import partial
from typing import Any

from bench.analyse.verdict import spared_success
from bench.report.console import number, share
from bench.report.document import Cell, Figure, Paragraph, Section, Table, cells
from bench.report.figures import failure as draw
from bench.store.stored import StoredRun
from pipeline.stages import STAGE_NAMES

FAULTS = ("crash", "hang", "slow", "errors", "leak")
# The stage whose timeline is shown for each fault kind, best first: one that /validate skips.
TIMELINE_STAGES = ("score", "features", "validate", "ingest")


def variant(fault: dict[str, Any]) -> str:
    return fault["arch"] + (" + resilience" if fault.get("resilience") else "")


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _order(faults: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """Variants, fault kinds and stages present, each in its natural order."""
    variants = sorted(
        {variant(f) for f in faults}, key=lambda v: (v.split(" ")[0] != "monolith", v)
    )
    kinds = [k for k in FAULTS if any(f["fault"] == k for f in faults)]
    kinds += sorted({f["fault"] for f in faults} - set(kinds))
    stages = [s for s in STAGE_NAMES if any(f["stage"] == s for f in faults)]
    return variants, kinds, stages


def _cell(entries: list[dict[str, Any]]) -> Cell:
    """Success during the fault of each endpoint (median over reps); ↷ marks one that skips the
    faulty stage. Invalid repetitions are flagged in the cell."""
    if not entries:
        return Cell("not run")
    names = sorted({n for e in entries for n in e["endpoints"]})
    lines = []
    for name in names:
        shown = [e["endpoints"][name] for e in entries if name in e["endpoints"]]
        success = _median([s["success_rate_during_fault"] for s in shown])
        skips = " ↷" if not shown[0]["needs_stage"] else ""
        lines.append(f"{name}{skips}: {share(success)}")
    flags = tuple(
        f"invalid: rep {e.get('rep', 0)}: {'; '.join(e['validity'].get('reasons') or [])}"
        for e in entries
        if not (e.get("validity") or {}).get("valid", False)
    )
    return Cell("\n".join(lines), flags)


def failure_section(run: StoredRun) -> Section:
    faults: list[dict[str, Any]] = run.summary.get("faults") or []
    title, anchor = "Failure isolation", "failure"
    if not faults:
        text = "Not measured: the failure-isolation scenario was not run in this run."
        return Section(title, anchor, (Paragraph(text),))
    variants, kinds, stages = _order(faults)

    def entries(v: str, kind: str, stage: str) -> list[dict[str, Any]]:
        return [f for f in faults if variant(f) == v and f["fault"] == kind and f["stage"] == stage]

    matrix_rows = tuple(
        (*cells(kind, stage), *(_cell(entries(v, kind, stage)) for v in variants))
        for kind in kinds
        for stage in stages
        if any(entries(v, kind, stage) for v in variants)
    )
    grid = {
        v: {
            (kind, stage): _median([spared_success(f) for f in entries(v, kind, stage)])
            for kind in kinds
            for stage in stages
        }
        for v in variants
    }
    blocks: list[Any] = [
        Paragraph(
            "One stage at a time is made to crash, hang, slow down, answer errors or leak memory "
            "under a steady load. Each cell gives every endpoint's success during the fault "
            "(median over repetitions); ↷ marks the endpoints that do not need the faulty stage: "
            "isolation means they keep serving."
        ),
        Table(("fault", "stage", *variants), matrix_rows, "The fault matrix."),
        Figure(
            "fault-matrix",
            "Success during the fault of the endpoints that skip the faulty stage (n/a: every "
            "endpoint needs it), per architecture, on one colour scale.",
            lambda: draw.matrix(grid, kinds, stages),
        ),
        _recovery_table(faults, variants),
    ]
    for kind in kinds:
        stage = next(
            (
                s
                for s in TIMELINE_STAGES
                if any(f["fault"] == kind and f["stage"] == s for f in faults)
            ),
            None,
        )
        if stage is None:
            continue
        panels = {}
        for v in variants:
            shown = sorted(entries(v, kind, stage), key=lambda f: f.get("rep", 0))
            if shown:
                panels[v] = shown[0]
        blocks.append(
            Figure(
                f"fault-{kind}-{stage}",
                f"Timeline of a {kind} in {stage} (first repetition): success share and p99 per "
                "second of every endpoint; grey: the fault window.",
                partial(draw.timeline, panels, f"{kind} in {stage}"),
            )
        )
    return Section(title, anchor, tuple(blocks))


def _recovery_table(faults: list[dict[str, Any]], variants: list[str]) -> Table:
    rows = []
    for v in variants:
        for kind, stage in sorted({(f["fault"], f["stage"]) for f in faults if variant(f) == v}):
            shown = [
                f for f in faults if variant(f) == v and f["fault"] == kind and f["stage"] == stage
            ]
            hit = [e for f in shown for e in f["endpoints"].values() if e["needs_stage"]]
            killed = [f.get("killed_by_memory_limit") for f in shown]
            rows.append(
                cells(
                    v,
                    kind,
                    stage,
                    number(_median([f.get("restart_s") for f in shown]), unit=" s"),
                    "–"
                    if all(k is None for k in killed)
                    else f"{sum(bool(k) for k in killed)} of {len(killed)}",
                    number(_median([e.get("time_to_first_error_s") for e in hit]), unit=" s"),
                    number(_median([e.get("recovery_s") for e in hit]), unit=" s"),
                    share(_median([e.get("success_rate_overall") for e in hit])),
                )
            )
    columns = ("architecture", "fault", "stage", "restart", "killed by the memory limit",
               "first error", "recovered after", "overall success")  # fmt: skip
    caption = (
        "For the endpoints that need the faulty stage, median over endpoints and repetitions: "
        "time from the fault's start to the first error, and from its end (or the restart) to "
        "the first second back at ≥ 99% success within the SLO."
    )
    return Table(columns, tuple(rows), caption)
