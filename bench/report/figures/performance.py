"""Figures of load and latency and of what serving costs: the knee curves, achieved against offered
throughput, the percentile spectrum, latency over time, where the time goes, CPU and memory."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.ticker import FuncFormatter

from bench.analyse.breakdown import Split
from bench.report.figures import STAGE_COLORS, arch_color, empty, new_figure, png

Steps = Mapping[str, Sequence[Sequence[Mapping[str, Any]]]]  # arch → reps → capacity trials


def _mark_capacity(ax: Any, capacity: Mapping[str, float | None]) -> None:
    for arch, rps in capacity.items():
        if rps:
            ax.axvline(rps, color=arch_color(arch), linestyle=":", linewidth=1.5)
            ax.annotate(
                f"{arch} capacity {rps:.0f}",
                (rps, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color=arch_color(arch),
            )


def knee(
    steps: Steps,
    capacity: Mapping[str, float | None],
    slo_ms: float,
    brackets: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> bytes:
    """p50 and p99 (intended) of every trial of every repetition's search against its offered
    load (a filled p99 marker met the SLO, a hollow one did not), the SLO, each capacity, and
    each architecture's final bracket shaded."""
    figure = new_figure()
    ax = figure.axes[0]
    for arch, (low, high) in (brackets or {}).items():
        if low and high:
            ax.axvspan(low, high, color=arch_color(arch), alpha=0.12, label=f"{arch} interval")
    for arch, reps in steps.items():
        color = arch_color(arch)
        for i, rep in enumerate(reps):
            ordered = sorted(rep, key=lambda s: s["rate"])
            rates = [s["rate"] for s in ordered]
            ax.plot(rates, [s["p50_ms"] for s in ordered], "--", color=color, alpha=0.5,
                    label=f"{arch} p50" if i == 0 else None)  # fmt: skip
            ax.plot(rates, [s["p99_ms"] for s in ordered], "-", color=color, alpha=0.5,
                    label=f"{arch} p99" if i == 0 else None)  # fmt: skip
            for passed in (True, False):
                mine = [s for s in ordered if s["passed"] is passed]
                ax.scatter([s["rate"] for s in mine], [s["p99_ms"] for s in mine], s=18,
                           marker="s", edgecolors=color, linewidths=1,
                           facecolors=color if passed else "none")  # fmt: skip
    ax.axhline(slo_ms, color="black", linewidth=1, label=f"SLO p99 ≤ {slo_ms:g} ms")
    _mark_capacity(ax, capacity)
    ax.set(xlabel="offered load (req/s)", ylabel="latency from intended send (ms)", yscale="log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return png(figure)


def throughput(steps: Steps, capacity: Mapping[str, float | None]) -> bytes:
    """Achieved against offered throughput per capacity trial; the diagonal is 'kept up'."""
    figure = new_figure(7.0, 4.5)
    ax = figure.axes[0]
    top = 1.0
    for arch, reps in steps.items():
        for i, rep in enumerate(reps):
            rates = [s["rate"] for s in rep]
            achieved = [s["achieved_rps"] for s in rep]
            top = max([top, *rates, *achieved])
            ax.plot(rates, achieved, "-o", ms=4, color=arch_color(arch), alpha=0.85,
                    label=arch if i == 0 else None)  # fmt: skip
    ax.plot([0, top], [0, top], color="#999", linewidth=1, label="achieved = offered")
    _mark_capacity(ax, capacity)
    ax.set(xlabel="offered load (req/s)", ylabel="achieved throughput (req/s)")
    ax.set_xlim(0, top * 1.05)
    ax.set_ylim(0, top * 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return png(figure)


def spectrum(curves: Mapping[str, Sequence[tuple[float, float]]], rate_rps: float | None) -> bytes:
    """The latency percentile spectrum (HDR style): x is 1/(1-p), so the tail gets room."""
    figure = new_figure(8.0, 4.5)
    ax = figure.axes[0]
    for arch, points in curves.items():
        xs = [1 / (1 - p / 100) for p, _ in points]
        ax.plot(xs, [v for _, v in points], color=arch_color(arch), linewidth=2, label=arch)
    ticks = [0, 50, 90, 99, 99.9, 99.99]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([1 / (1 - p / 100) for p in ticks])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * (1 - 1 / x):g}%"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    load = f" at {rate_rps:g} req/s" if rate_rps else ""
    ax.set(xlabel="percentile", ylabel=f"latency from intended send (ms){load}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return png(figure)


# scenario → arch → reps → over_time rows; scenario → shaded (start_s, end_s, label)
Series = Mapping[str, Mapping[str, Sequence[Sequence[Mapping[str, Any]]]]]


def over_time(series: Series, windows: Mapping[str, Sequence[tuple[float, float, str]]]) -> bytes:
    """p50 (dashed) and p99 (solid) per second in each scenario, on one shared latency scale."""
    scenarios = list(series)
    figure = new_figure(
        5.0 * max(1, len(scenarios)), 4.2, ncols=max(1, len(scenarios)), sharey=True
    )
    if not scenarios:
        empty(figure.axes[0], "no steady or spike scenario in this run")
        return png(figure)
    for ax, scenario in zip(figure.axes, scenarios, strict=True):
        for start_s, end_s, label in windows.get(scenario, ()):
            ax.axvspan(start_s, end_s, color="#999", alpha=0.15, label=label)
        for arch, reps in series[scenario].items():
            for i, rows in enumerate(reps):
                t = [r["t_s"] for r in rows]
                for key, style in (("intended_p50_ms", "--"), ("intended_p99_ms", "-")):
                    name = f"{arch} {key.split('_')[1]}" if i == 0 else None
                    values = [math.nan if r[key] is None else r[key] for r in rows]
                    ax.plot(t, values, style, color=arch_color(arch),
                            alpha=0.8, linewidth=1.2, label=name)  # fmt: skip
        ax.set(title=scenario, xlabel="time (s)", yscale="log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    figure.axes[0].set_ylabel("latency from intended send (ms)")
    return png(figure)


def time_split(splits: Mapping[str, Split]) -> bytes:
    """Stacked bars per architecture: stage compute, network hops, the entry's own work, and the
    client ↔ entry part, in mean ms per prediction."""
    figure = new_figure(9.0, 1.2 + 1.1 * max(1, len(splits)))
    ax = figure.axes[0]
    labelled: set[str] = set()
    for y, split in enumerate(splits.values()):
        left = 0.0
        parts: list[tuple[str, float, str, str]] = []
        for stage, ms in split.stages_ms.items():
            parts.append((f"{stage} (compute)", ms, STAGE_COLORS.get(stage, "#999"), ""))
            if stage in split.hops_ms:
                hop = split.hops_ms[stage]
                parts.append((f"{stage}-hop (network)", hop, STAGE_COLORS.get(stage, "#999"), "//"))
        parts.append(("entry process (own work)", max(0.0, split.entry_ms), "#d0d0d0", ""))
        if split.outside_ms is not None:
            parts.append(("client ↔ entry", max(0.0, split.outside_ms), "#f2f2f2", ".."))
        for label, ms, color, hatch in parts:
            ax.barh(y, ms, left=left, color=color, hatch=hatch, edgecolor="#444", linewidth=0.5,
                    label=None if label in labelled else label)  # fmt: skip
            labelled.add(label)
            left += ms
    ax.set_yticks(range(len(splits)), list(splits))
    ax.invert_yaxis()
    ax.set_xlabel("mean time per prediction (ms)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    return png(figure)


# arch → service → (CPU-ms per request, memory MiB); arch → the cgroup's (CPU-ms, MiB)
PerService = Mapping[str, Mapping[str, tuple[float | None, float | None]]]


def resources(
    per_service: PerService, totals: Mapping[str, tuple[float | None, float | None]]
) -> bytes:
    """CPU-ms per request and memory (PSS), stacked by service; the cgroup's total as a marker."""
    figure = new_figure(10.0, 4.2, ncols=2)
    archs = list(per_service)
    for panel, (ax, title) in enumerate(
        zip(figure.axes, ("CPU-ms per request", "memory, PSS (MiB)"), strict=True)
    ):
        labelled: set[str] = set()
        for x, arch in enumerate(archs):
            bottom = 0.0
            for service, figures in sorted(per_service[arch].items()):
                value = figures[panel] or 0.0
                color = STAGE_COLORS.get(service, "#999")
                ax.bar(x, value, bottom=bottom, color=color, edgecolor="#444", linewidth=0.5,
                       label=None if service in labelled else service)  # fmt: skip
                labelled.add(service)
                bottom += value
            total = totals.get(arch, (None, None))[panel]
            if total is not None:
                label = "whole stack (cgroup)" if "cgroup" not in labelled else None
                ax.plot([x - 0.4, x + 0.4], [total, total], color="black", linewidth=2, label=label)
                labelled.add("cgroup")
        ax.set_xticks(range(len(archs)), archs)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    return png(figure)
