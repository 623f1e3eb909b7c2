"""The printed cost, scaling, sweep and plan figures of a run, and `archbench plan`'s answer."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

MiB = 1 << 20


def _num(value: float | None, digits: int = 1, scale: float = 1.0) -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}"


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def render(summary: Mapping[str, Any], console: Console | None = None) -> None:
    """Print whichever of cost, scaling, sweep and plan the run has."""
    console = console or _console()
    if summary.get("cost"):
        _cost(summary["cost"], console)
    if summary.get("scaling"):
        _scaling(summary["scaling"], console)
    if summary.get("sweep"):
        _sweep(summary["sweep"], console)
    if summary.get("plan"):
        _validation(summary["plan"], console)


def _cost(cost: Mapping[str, Any], console: Console) -> None:
    table = Table(title="cost (steady scenario; idle and ready: median over stack starts)")
    for column in (
        "arch",
        "idle RSS MiB",
        "idle CPU %",
        "ready s",
        "CPU-s / M",
        "GB-s / M",
        "$ / M used",
        "$ / M reserved",
    ):
        table.add_column(column, justify="left" if column == "arch" else "right")
    for arch, figures in cost.items():
        if arch == "prices":
            continue
        idle, ready = figures.get("idle") or {}, figures.get("ready_s") or {}
        table.add_row(
            arch,
            _num(idle.get("total_rss_bytes"), 0, 1 / MiB),
            _num(idle.get("total_cpu_percent"), 2),
            _num(ready.get("total_s"), 2),
            _num(figures.get("cpu_s_per_million"), 0),
            _num(figures.get("gb_s_per_million"), 0),
            _num(figures.get("usd_per_million"), 4),
            _num((figures.get("reserved") or {}).get("usd_per_million"), 4),
        )
    console.print(table)
    prices = cost.get("prices") or {}
    console.print(
        f"prices: ${prices.get('vcpu_hour_usd')} per vCPU-hour, ${prices.get('gb_hour_usd')} per "
        f"GB-hour, from {prices.get('file')}; M = a million predictions"
    )


def _scaling(scaling: Mapping[str, Any], console: Console) -> None:
    table = Table(title="scaling within the same budget (median over repetitions)")
    for column in ("arch", "scaled", "replicas", "capacity req/s", "p99 ms", "memory MiB", "+MiB"):
        table.add_column(column, justify="left" if column in ("arch", "scaled") else "right")
    for arch, points in scaling.items():
        for p in points:
            invalid = f" ({p['invalid_runs']} INVALID)" if p.get("invalid_runs") else ""
            table.add_row(
                arch,
                p["scaled"],
                f"{p['replicas']}{invalid}",
                _num(p.get("capacity_rps"), 0),
                _num(p.get("p99_ms")),
                _num(p.get("memory_bytes"), 0, 1 / MiB),
                _num(p.get("memory_added_bytes"), 0, 1 / MiB),
            )
    console.print(table)


def _sweep(sweep: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="model and batch sweep (one request at a time)")
    for column in (
        "model",
        "batch",
        "arch",
        "p50 ms",
        "CPU ms/req",
        "arch share latency",
        "arch share CPU",
        "vs monolith p50",
    ):
        table.add_column(column, justify="left" if column in ("model", "arch") else "right")
    for e in sweep:
        table.add_row(
            e["model"],
            str(e["batch"]),
            e["arch"],
            _num(e.get("p50_ms"), 2),
            _num(e.get("cpu_ms_per_request"), 2),
            _num(e.get("arch_share_of_latency"), 0, 100) + " %",
            _num(e.get("arch_share_of_cpu"), 0, 100) + " %",
            _num(e.get("vs_monolith_p50"), 2) + "×" if e.get("vs_monolith_p50") else "",
        )
    console.print(table)


def _validation(plan: Mapping[str, Any], console: Console) -> None:
    error, worst = plan.get("validation_error"), plan.get("validation_error_max")
    points = len(plan.get("validation") or [])
    if error is None:
        console.print("capacity model: no measured capacity to validate it against")
    else:
        console.print(
            f"capacity model: predicts the capacities measured here within {error:.0%} on average "
            f"(at worst {worst:.0%}) over {points} point(s); `archbench plan --rate R` uses it"
        )


def answer(
    rate_rps: float,
    slo_ms: float,
    choices: Mapping[str, dict[str, Any] | None],
    bases: Mapping[str, float],
    cheaper: str | None,
    saving: float | None,
    plan: Mapping[str, Any],
    console: Console | None = None,
) -> None:
    """Print `archbench plan`'s answer: per architecture what it needs and costs, which wins."""
    console = console or _console()
    table = Table(title=f"{rate_rps:g} req/s at p99 ≤ {slo_ms:g} ms")
    for column in ("arch", "cores", "replicas", "memory MiB", "$ / hour", "$ / M requests"):
        table.add_column(column, justify="left" if column in ("arch", "replicas") else "right")
    for arch, choice in choices.items():
        if choice is None:
            reason = (
                f"cannot: p99 without queueing is {bases[arch]:.1f} ms"
                if bases[arch] >= slo_ms
                else "needs more than 4096 cores"
            )
            table.add_row(arch, "–", reason, "–", "–", "–")
            continue
        replicas = ", ".join(f"{n} {c}" for n, c in choice["replicas"].items())
        table.add_row(
            arch,
            f"{choice['cores']:g}",
            replicas,
            _num(choice["memory_bytes"], 0, 1 / MiB),
            _num(choice["usd_per_hour"], 4),
            _num(choice["usd_per_million"], 4),
        )
    console.print(table)
    priced = [c for c in choices.values() if c is not None]
    if cheaper is not None and saving is not None:
        low, high = (f(c["usd_per_million"] for c in priced) for f in (min, max))
        console.print(
            f"{cheaper} is cheaper by {saving:.0%} (${low:.4f} vs ${high:.4f} per million requests)"
        )
    _validation(plan, console)
    prices = plan.get("prices") or {}
    console.print(
        f"prices: ${prices.get('vcpu_hour_usd')} per vCPU-hour, ${prices.get('gb_hour_usd')} per "
        f"GB-hour ({prices.get('file')})"
    )
