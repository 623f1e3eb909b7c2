"""Reading a report's Markdown back: its tables as rows of cell texts."""

from __future__ import annotations

import re


def md_cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def md_tables(markdown: str) -> dict[str, list[list[str]]]:
    """The first table under each `## ` heading: rows of cell texts, the header row first."""
    tables: dict[str, list[list[str]]] = {}
    section, ended = "", False
    for line in markdown.splitlines():
        if line.startswith("## "):
            section, ended = line[3:], False
        elif line.startswith("|") and not ended:
            if not line.startswith("|---"):
                tables.setdefault(section, []).append(md_cells(line))
        elif section in tables:
            ended = True
    return tables


def md_section(markdown: str, title: str) -> str:
    """The text of the `## title` section."""
    return markdown.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def md_rows(text: str) -> list[list[str]]:
    """Every table row in the text (header rows included, separators not)."""
    lines = text.splitlines()
    return [
        md_cells(line) for line in lines if line.startswith("|") and not line.startswith("|---")
    ]
