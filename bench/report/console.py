"""The printed summary of a bench run: a row per architecture and scenario, invalid runs flagged;
a row per fault run when faults were injected."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.analyse.headline import SCENARIO_COLUMNS, scenario_figures


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
    if summary["by_arch"]:
        console.print(table)
        console.print(
            "Latencies are from each request's intended send time (open loop); median "
            "(min–max) over repetitions."
        )
    if summary.get("faults"):
        render_faults(summary["faults"], console)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def render_faults(entries: list[dict[str, Any]], console: Console) -> None:
    """One row per fault run: what kept serving while one stage was broken."""
    table = Table(title="failure isolation — answered as asked during the fault")
    for column in (
        "arch",
        "fault",
        "stage",
        "gateway",
        "predict ok",
        "predict p99 ms",
        "degraded",
        "validate ok",
        "validate p99 ms",
        "kept serving",
        "restart s",
        "predict back after s",
    ):
        table.add_column(column, justify="left" if column in ("arch", "fault") else "right")
    for entry in entries:
        endpoints = entry.get("endpoints") or {}
        predict, validate = endpoints.get("predict", {}), endpoints.get("validate", {})
        kept = ", ".join(n for n, ok in (entry.get("kept_serving") or {}).items() if ok) or "none"
        invalid = "" if entry["validity"]["valid"] else " [red](INVALID)[/red]"
        table.add_row(
            entry["arch"] + invalid,
            entry["fault"],
            entry["stage"],
            "resilient" if entry["resilience"] else "plain",
            _share(predict.get("success_rate_during_fault")),
            _ms(predict.get("p99_during_fault_ms")),
            str(predict.get("degraded", "–")),
            _share(validate.get("success_rate_during_fault")),
            _ms(validate.get("p99_during_fault_ms")),
            kept,
            _seconds(entry.get("restart_s")),
            _seconds(predict.get("recovery_s")),
        )
    console.print(table)
    console.print(
        "ok: answered with the expected status (degraded 203 fallbacks are not ok); kept "
        "serving: >= 99% ok and p99 within the SLO while the stage was broken."
    )
