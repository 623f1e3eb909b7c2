"""A self-check's figures against their targets, as a printed table: its columns, each row's
verdict (of a single figure, or of a median with its interval)."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

from bench.report.console import NOT_AVAILABLE, table

# A target the interval straddles: within the noise, neither met nor missed.
NOISE = "within noise"
COLUMNS = ("figure", "measured", "target", "result", "from")


def targets_table(title: str) -> Table:
    """An empty table of figures against targets; only the measured figure is right-justified."""
    return table(title, COLUMNS, left=[c for c in COLUMNS if c != "measured"])


def verdict(passed: bool | None) -> str:
    """PASS, FAIL or n/a (no figure), coloured for rich."""
    if passed is None:
        return f"[yellow]{NOT_AVAILABLE}[/]"
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def interval_verdict(
    interval: tuple[float, float, float] | None, passes: Callable[[float], bool]
) -> str:
    """PASS when the whole interval (median, low, high) meets the target, FAIL when none of it
    does, else "noise": the rounds do not settle which side of the target the figure is on."""
    if interval is None:
        return verdict(None)
    met = [passes(v) for v in interval]
    if all(met):
        return verdict(True)
    if not any(met):
        return verdict(False)
    return f"[yellow]{NOISE}[/]"
