"""The printed summary of a bench run: a row per architecture and scenario, invalid runs flagged."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(figure: dict[str, Any] | None, scale: float = 1.0, digits: int = 1) -> str:
    """Median with its range over repetitions, e.g. '12.3 (11.9–13.0)'."""
    if not figure or figure.get("median") is None:
        return "–"
    median, low, high = (figure[k] * scale for k in ("median", "min", "max"))
    if figure.get("n", 0) > 1:
        return f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"
    return f"{median:.{digits}f}"


def render(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the headline figures of a run's summary.json."""
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    table = Table(
        title=f"archbench — {summary['status']} run; steady rate {summary.get('rate_rps')} req/s"
    )
    for column in (
        "arch",
        "scenario",
        "runs",
        "capacity req/s",
        "throughput req/s",
        "p50 ms",
        "p99 ms",
        "errors %",
        "CPU ms/req",
        "memory MiB",
    ):
        table.add_column(column, justify="left" if column in ("arch", "scenario") else "right")
    for arch, scenarios in summary["by_arch"].items():
        for scenario, figures in scenarios.items():
            invalid = figures["invalid_runs"]
            runs = f"{figures['runs']}" + (f" [red]({invalid} INVALID)[/red]" if invalid else "")
            table.add_row(
                arch,
                scenario,
                runs,
                _fmt(figures.get("capacity_rps"), digits=0),
                _fmt(figures["throughput_rps"], digits=0),
                _fmt(figures["p50_ms"]),
                _fmt(figures["p99_ms"]),
                _fmt(figures["error_rate"], 100, 2),
                _fmt(figures["cpu_ms_per_request"], digits=2),
                _fmt(figures["memory_bytes"], 1 / 2**20, 0),
            )
    console.print(table)
    console.print(
        "Latencies are from each request's intended send time (open loop); median "
        "(min–max) over repetitions."
    )
