"""A self-check's figures against their targets, as a printed table: its columns, each row's
verdict."""

from __future__ import annotations

from rich.table import Table

from bench.report.console import NOT_AVAILABLE, table

COLUMNS = ("figure", "measured", "target", "result", "from")


def targets_table(title: str) -> Table:
    """An empty table of figures against targets; only the measured figure is right-justified."""
    return table(title, COLUMNS, left=[c for c in COLUMNS if c != "measured"])


def verdict(passed: bool | None) -> str:
    """PASS, FAIL or n/a (no figure), coloured for rich."""
    if passed is None:
        return f"[yellow]{NOT_AVAILABLE}[/]"
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"
