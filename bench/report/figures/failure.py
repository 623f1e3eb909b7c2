"""Figures of failure isolation: the fault matrix as heat maps on one colour scale, and the
timelines of a fault (success and p99 per second of every endpoint, the fault window shaded)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.report.figures import empty, new_figure, png

ENDPOINT_STYLES = {"predict": "-", "predict-batch": "--", "validate": ":"}
ENDPOINT_COLORS = {"predict": "#1b9e77", "predict-batch": "#7570b3", "validate": "#d95f02"}

# variant → (fault, stage) → the success share of the endpoints that skip the stage (None: none do)
Grid = Mapping[str, Mapping[tuple[str, str], float | None]]


def matrix(grid: Grid, faults: Sequence[str], stages: Sequence[str]) -> bytes:
    """One heat map per variant: rows are stages, columns fault kinds, colour the success during
    the fault of the endpoints that do not need the faulty stage (green: isolated)."""
    variants = list(grid)
    figure = new_figure(3.2 * len(variants) + 1.0, 0.5 * len(stages) + 1.6, ncols=len(variants))
    image = None
    for ax, variant in zip(figure.axes, variants, strict=True):
        values = [
            [math.nan if (v := grid[variant].get((f, s))) is None else v for f in faults]
            for s in stages
        ]
        image = ax.imshow(values, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
        for row, stage_values in enumerate(values):
            for col, value in enumerate(stage_values):
                text = "n/a" if math.isnan(value) else f"{value:.0%}"
                ax.text(col, row, text, ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(faults)), faults, rotation=30, fontsize=8)
        ax.set_yticks(range(len(stages)), stages, fontsize=8)
        ax.set_title(variant, fontsize=9)
    if image is not None:
        figure.colorbar(image, ax=figure.axes, label="success of the spared endpoints", shrink=0.8)
    return png(figure)


def timeline(panels: Mapping[str, Mapping[str, Any]], title: str) -> bytes:
    """A fault's timeline in each variant (columns): success share (top) and p99 (bottom) per
    second of every endpoint, on shared scales; grey: the fault window."""
    variants = list(panels)
    figure = new_figure(
        4.2 * max(1, len(variants)), 5.5, nrows=2, ncols=max(1, len(variants)), sharex=True,
        sharey="row", squeeze=False,
    )  # fmt: skip
    figure.suptitle(title, fontsize=10)
    grid = [figure.axes[i :: max(1, len(variants))] for i in range(max(1, len(variants)))]
    if not variants:
        empty(figure.axes[0], "no fault timeline")
        return png(figure)
    for (top, bottom), variant in zip(grid, variants, strict=True):
        fault = panels[variant]
        start_s, end_s = fault["fault_window_s"]
        bins = fault.get("timeline") or []
        if end_s is None:
            # The fault had not ended when the run did (a restart slower than the run's tail):
            # the window runs to the last second measured.
            end_s = max((b["t_s"] + 1 for b in bins), default=start_s)
        for ax in (top, bottom):
            ax.axvspan(start_s, end_s, color="#999", alpha=0.2)
            ax.grid(True, alpha=0.3)
        for name in sorted({b["name"] for b in bins}):
            rows = sorted((b for b in bins if b["name"] == name), key=lambda b: b["t_s"])
            t = [b["t_s"] for b in rows]
            success = [
                b["ok"] / (b["ok"] + b["failed"]) if b["ok"] + b["failed"] else math.nan
                for b in rows
            ]
            p99 = [math.nan if b.get("p99_ms") is None else b["p99_ms"] for b in rows]
            style, color = ENDPOINT_STYLES.get(name, "-"), ENDPOINT_COLORS.get(name, "#444")
            top.plot(t, success, linestyle=style, color=color, label=name, drawstyle="steps-post")
            bottom.plot(t, p99, linestyle=style, color=color, label=name, drawstyle="steps-post")
        top.set_title(variant, fontsize=9)
        top.set_ylim(-0.05, 1.05)
        if any(b.get("p99_ms") for b in bins):  # a log axis needs a positive value
            bottom.set_yscale("log")
        bottom.set_xlabel("time (s)")
        top.legend(fontsize=7)
    grid[0][0].set_ylabel("success share per second")
    grid[0][1].set_ylabel("p99 per second (ms)")
    return png(figure)
