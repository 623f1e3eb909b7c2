"""Reading a printed rich table back: its text, and its rows by their first cell."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table


def text(table: Table) -> str:
    """The table as a wide terminal prints it, without colours."""
    console = Console(file=io.StringIO(), width=250, record=True)
    console.print(table)
    return console.export_text()


def rows(table: Table) -> dict[str, str]:
    """Each body row's whole line, by the text of its first cell."""
    lines = [line for line in text(table).splitlines() if line.startswith("│")]
    return {line.split("│")[1].strip(): line for line in lines}
