"""The figure of the model-update runs: every request of each run over time, by what it got back
(the old version, the new one, a mixed answer, another success, a failure), the deploy shaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.report.figures import empty, new_figure, png

OLD, NEW, MIXED, OTHER, FAILED = "old version", "new version", "mixed", "other answer", "failed"
STYLES = {
    OLD: ("#1f6fb4", "o"),
    NEW: ("#2ca02c", "o"),
    MIXED: ("#9467bd", "D"),
    OTHER: ("#b0b0b0", "."),
    FAILED: ("#d62728", "x"),
}
# A failure answered at once would sit at the bottom of a log axis: draw it at this floor.
FLOOR_MS = 0.5


def kind(status: int, ok: bool, version: str | None, old: str, new: str) -> str:
    """What one request got back."""
    if not ok:
        return FAILED
    if status != 200 or version is None:
        return OTHER
    return OLD if version == old else NEW if version == new else MIXED


def timelines(
    panels: Mapping[tuple[str, str], tuple[dict[str, Any], dict[str, Any]] | None],
    archs: Sequence[str],
    variants: Sequence[str],
) -> bytes:
    """One panel per architecture (rows) and way of deploying (columns), on shared axes: each
    request at its intended time (s from the deploy's start) and its latency; `panels` maps
    (arch, variant) to (summary entry, requests.json), or None when not run."""
    figure = new_figure(
        4.2 * len(variants) + 0.6, 2.6 * len(archs) + 0.6,
        nrows=len(archs), ncols=len(variants), sharex=True, sharey=True, squeeze=False,
    )  # fmt: skip
    grid = figure.axes
    for i, arch in enumerate(archs):
        for j, variant in enumerate(variants):
            ax = grid[i * len(variants) + j]
            shown = panels.get((arch, variant))
            if shown is None:
                empty(ax, f"{arch} {variant}: not run")
                continue
            entry, ledger = shown
            start, end = entry["deploy_window_s"]
            if start is None:
                empty(ax, f"{arch} {variant}: no deploy")
                continue
            rows = ledger["requests"]
            done = end if end is not None else entry["measured_s"][1]
            ax.axvspan(0.0, done - start, color="#999", alpha=0.2, lw=0)
            points: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in STYLES}
            for t, latency, status, ok, version in zip(
                rows["intended_s"], rows["latency_ms"], rows["status"], rows["ok"],
                rows["version"], strict=True,
            ):  # fmt: skip
                xs, ys = points[
                    kind(status, ok, version, entry["old_version"], entry["new_version"])
                ]
                xs.append(t - start)
                ys.append(max(FLOOR_MS, latency if latency is not None else FLOOR_MS))
            for label, (xs, ys) in points.items():
                if xs:
                    color, marker = STYLES[label]
                    ax.scatter(xs, ys, s=6, color=color, marker=marker, label=label, lw=0.6)
            ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.set_title(f"{arch} {variant} ({', '.join(entry['services'])})", fontsize=9)
            ax.legend(fontsize=6, loc="upper right")
    for ax in grid[-len(variants) :]:
        ax.set_xlabel("intended time from the deploy's start (s)")
    for i in range(len(archs)):
        grid[i * len(variants)].set_ylabel("latency (ms)")
    return png(figure)
