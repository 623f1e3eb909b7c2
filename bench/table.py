"""The printed summary of a bench run: a row per architecture and scenario, invalid runs flagged."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.headline import SCENARIO_COLUMNS, scenario_figures


def render(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the headline figures of a run's summary.json."""
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    table = Table(
        title=f"archbench — {summary['status']} run; steady rate {summary.get('rate_rps')} req/s"
    )
    for column in ("arch", "scenario", "runs", *SCENARIO_COLUMNS):
        table.add_column(column, justify="left" if column in ("arch", "scenario") else "right")
    for arch, scenarios in summary["by_arch"].items():
        for scenario, figures in scenarios.items():
            invalid = figures["invalid_runs"]
            runs = f"{figures['runs']}" + (f" [red]({invalid} INVALID)[/red]" if invalid else "")
            table.add_row(arch, scenario, runs, *scenario_figures(figures))
    console.print(table)
    console.print(
        "Latencies are from each request's intended send time (open loop); median "
        "(min–max) over repetitions."
    )
