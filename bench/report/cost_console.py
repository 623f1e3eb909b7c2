"""The printed cost, scaling, sweep and plan figures of a run, and `archbench plan`'s answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from bench.report.console import number, stdout, table

MiB = 1 << 20
COST_COLUMNS = ("arch", "idle RSS MiB", "idle CPU %", "ready s", "CPU-s / M", "GB-s / M",
                "$ / M used", "$ / M reserved")  # fmt: skip
SWEEP_COLUMNS = ("model", "batch", "arch", "p50 ms", "CPU ms/req", "arch share latency",
                 "arch share CPU", "vs monolith p50")  # fmt: skip


def render(summary: Mapping[str, Any], console: Console | None = None) -> None:
    """Print whichever of cost, scaling, sweep and plan the run has."""
    console = console or stdout()
    if summary.get("cost"):
        _cost(summary["cost"], console)
    if summary.get("scaling"):
        _scaling(summary["scaling"], console)
    if summary.get("sweep"):
        _sweep(summary["sweep"], console)
    if summary.get("plan"):
        _validation(summary["plan"], console)


def _cost(cost: Mapping[str, Any], console: Console) -> None:
    out = table(
        "cost (steady scenario; idle and ready: median over stack starts)",
        COST_COLUMNS,
        left=("arch",),
    )
    for arch, figures in cost.items():
        if arch == "prices":
            continue
        idle, ready = figures.get("idle") or {}, figures.get("ready_s") or {}
        out.add_row(
            arch,
            number(idle.get("total_rss_bytes"), 0, 1 / MiB),
            number(idle.get("total_cpu_percent"), 2),
            number(ready.get("total_s"), 2),
            number(figures.get("cpu_s_per_million"), 0),
            number(figures.get("gb_s_per_million"), 0),
            number(figures.get("usd_per_million"), 4),
            number((figures.get("reserved") or {}).get("usd_per_million"), 4),
        )
    console.print(out)
    prices = cost.get("prices") or {}
    console.print(
        f"prices: ${prices.get('vcpu_hour_usd')} per vCPU-hour, ${prices.get('gb_hour_usd')} per "
        f"GB-hour, from {prices.get('file')}; M = a million predictions"
    )


def _scaling(scaling: Mapping[str, Any], console: Console) -> None:
    out = table(
        "scaling within the same budget (median over repetitions)",
        ("arch", "scaled", "replicas", "capacity req/s", "p99 ms", "memory MiB", "+MiB"),
        left=("arch", "scaled"),
    )
    for arch, points in scaling.items():
        for p in points:
            invalid = f" ({p['invalid_runs']} INVALID)" if p.get("invalid_runs") else ""
            out.add_row(
                arch,
                p["scaled"],
                f"{p['replicas']}{invalid}",
                number(p.get("capacity_rps"), 0),
                number(p.get("p99_ms")),
                number(p.get("memory_bytes"), 0, 1 / MiB),
                number(p.get("memory_added_bytes"), 0, 1 / MiB),
            )
    console.print(out)


def _sweep(sweep: list[dict[str, Any]], console: Console) -> None:
    out = table(
        "model and batch sweep (one request at a time)",
        SWEEP_COLUMNS,
        left=("model", "arch"),
    )
    for e in sweep:
        out.add_row(
            e["model"],
            str(e["batch"]),
            e["arch"],
            number(e.get("p50_ms"), 2),
            number(e.get("cpu_ms_per_request"), 2),
            number(e.get("arch_share_of_latency"), 0, 100) + " %",
            number(e.get("arch_share_of_cpu"), 0, 100) + " %",
            number(e.get("vs_monolith_p50"), 2) + "×" if e.get("vs_monolith_p50") else "",
        )
    console.print(out)


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
    console = console or stdout()
    out = table(
        f"{rate_rps:g} req/s at p99 ≤ {slo_ms:g} ms",
        ("arch", "cores", "replicas", "memory MiB", "$ / hour", "$ / M requests"),
        left=("arch", "replicas"),
    )
    for arch, choice in choices.items():
        if choice is None:
            reason = (
                f"cannot: p99 without queueing is {bases[arch]:.1f} ms"
                if bases[arch] >= slo_ms
                else "needs more than 4096 cores"
            )
            out.add_row(arch, "–", reason, "–", "–", "–")
            continue
        replicas = ", ".join(f"{n} {c}" for n, c in choice["replicas"].items())
        out.add_row(
            arch,
            f"{choice['cores']:g}",
            replicas,
            number(choice["memory_bytes"], 0, 1 / MiB),
            number(choice["usd_per_hour"], 4),
            number(choice["usd_per_million"], 4),
        )
    console.print(out)
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
