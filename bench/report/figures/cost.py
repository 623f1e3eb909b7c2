"""Figures of what each architecture costs and how it grows: idle memory and time to ready by
service, capacity and memory against replicas, the model/batch sweep, and the capacity plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.ticker import MaxNLocator

from bench.report.figures import STAGE_COLORS, arch_color, new_figure, png


def idle(costs: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Idle memory (RSS) stacked by service, and cold start to ready: each service and the
    whole stack, per architecture."""
    figure = new_figure(10.0, 4.2, ncols=2)
    memory_ax, ready_ax = figure.axes
    archs = list(costs)
    labelled: set[str] = set()
    for x, arch in enumerate(archs):
        bottom = 0.0
        services = (costs[arch].get("idle") or {}).get("services") or {}
        for name, figures in sorted(services.items()):
            mib = figures.get("rss_bytes", 0) / 2**20
            memory_ax.bar(x, mib, bottom=bottom, color=STAGE_COLORS.get(name, "#999"),
                          edgecolor="#444", linewidth=0.5,
                          label=None if name in labelled else name)  # fmt: skip
            labelled.add(name)
            bottom += mib
        ready = costs[arch].get("ready_s") or {}
        if ready.get("total_s") is not None:
            ready_ax.bar(x, ready["total_s"], color=arch_color(arch), alpha=0.6)
        for name, seconds in sorted((ready.get("services") or {}).items()):
            ready_ax.plot(x, seconds, "o", color=STAGE_COLORS.get(name, "#444"), ms=5)
    memory_ax.set(title="idle memory, RSS (MiB)")
    ready_ax.set(title="cold start to ready (s): stack bar, services dots")
    for ax in (memory_ax, ready_ax):
        ax.set_xticks(range(len(archs)), archs)
        ax.grid(True, axis="y", alpha=0.3)
    memory_ax.legend(fontsize=7)
    return png(figure)


# a panel: the point's key, the axis label, the scale from stored to shown unit
Panel = tuple[str, str, float]


def _by_arch(
    points: Mapping[str, Sequence[Mapping[str, Any]]], x: str, xlabel: str, panels: Sequence[Panel]
) -> bytes:
    """Side-by-side panels sharing x, one line per architecture in each."""
    figure = new_figure(10.0, 4.2, ncols=len(panels), sharex=True)
    for arch, series in points.items():
        series = sorted(series, key=lambda p: p[x])
        label = f"{arch} ({series[0]['scaled']})" if series and "scaled" in series[0] else arch
        for ax, (key, _, scale) in zip(figure.axes, panels, strict=True):
            values = [(p.get(key) or 0) * scale for p in series]
            ax.plot([p[x] for p in series], values, "-o", color=arch_color(arch), label=label)
    for ax, (_, ylabel, _) in zip(figure.axes, panels, strict=True):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return png(figure)


def scaling(points: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """Capacity and memory against replicas, one line per architecture (what it scaled)."""
    panels = [("capacity_rps", "capacity at the SLO (req/s)", 1.0),
              ("memory_bytes", "memory (MiB)", 2**-20)]  # fmt: skip
    return _by_arch(points, "replicas", "replicas", panels)


def sweep(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """p50 and the architecture's share of latency against batch size, one panel per model."""
    models = [m for m in ("light", "medium", "heavy") if any(r["model"] == m for r in rows)]
    models += sorted({r["model"] for r in rows} - set(models))
    figure = new_figure(3.6 * max(1, len(models)), 6.0, nrows=2, ncols=max(1, len(models)),
                        sharex=True, sharey="row", squeeze=False)  # fmt: skip
    columns = max(1, len(models))
    for i, model in enumerate(models):
        top, bottom = figure.axes[i], figure.axes[columns + i]
        for arch in sorted({r["arch"] for r in rows if r["model"] == model}):
            mine = sorted(
                (r for r in rows if r["model"] == model and r["arch"] == arch),
                key=lambda r: r["batch"],
            )
            batches = [r["batch"] for r in mine]
            top.plot(batches, [r["p50_ms"] for r in mine], "-o", color=arch_color(arch), label=arch)
            share = [r.get("arch_share_of_latency") for r in mine]
            bottom.plot(batches, [s if s is not None else float("nan") for s in share], "-o",
                        color=arch_color(arch), label=arch)  # fmt: skip
        top.set_title(f"model: {model}", fontsize=9)
        bottom.set_xlabel("records per request")
        bottom.set_xscale("log", base=2)
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        top.legend(fontsize=7)
    figure.axes[0].set_ylabel("p50 (ms)")
    figure.axes[columns].set_ylabel("architecture's share of latency")
    return png(figure)


def plan(points: Sequence[Mapping[str, Any]]) -> bytes:
    """The capacity plan: predicted requests per second and price per million against cores."""
    by_arch = {
        a: [p for p in points if p["arch"] == a] for a in sorted({p["arch"] for p in points})
    }
    panels = [("max_rps", "predicted capacity (req/s)", 1.0),
              ("usd_per_million", "USD per million predictions", 1.0)]  # fmt: skip
    return _by_arch(by_arch, "cores", "cores", panels)
