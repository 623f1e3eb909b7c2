"""The report's content, format-free (sections of paragraphs, tables and figures), and its two
renderings: Markdown and one self-contained HTML page (inline CSS, figures as data URIs)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

FIGURES_DIR = "figures"
WARNING = "⚠"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Cell:
    """A table cell; its flags are shown beside its text (a badge in HTML), never in a footnote."""

    text: str
    flags: tuple[str, ...] = ()
    css: str = ""  # a class for the HTML cell, e.g. the verdict's


@dataclass(frozen=True)
class Paragraph:
    text: str
    warning: bool = False
    kind: str = field(default="paragraph", init=False)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    kind: str = field(default="table", init=False)


@dataclass(frozen=True)
class Figure:
    """A PNG figure, drawn only when a rendering needs its pixels."""

    name: str  # written as figures/<name>.png
    caption: str
    draw: Callable[[], bytes] = field(compare=False, repr=False)
    kind: str = field(default="figure", init=False)

    @property
    def path(self) -> str:
        return f"{FIGURES_DIR}/{self.name}.png"


Block = Paragraph | Table | Figure


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]

    @property
    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


def cells(*texts: str) -> tuple[Cell, ...]:
    return tuple(Cell(t) for t in texts)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _md_cell(cell: Cell) -> str:
    flags = "".join(f" {WARNING} {flag}" for flag in cell.flags)
    return _md_escape(cell.text + flags)


def _md_table(table: Table) -> list[str]:
    lines = []
    if table.caption:
        lines += [f"*{table.caption}*", ""]
    lines.append("| " + " | ".join(_md_escape(c) for c in table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def to_markdown(document: Document) -> str:
    """The report as Markdown; figures are linked from figures/."""
    lines = [f"# {document.title}", ""]
    for section in document.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                lines.append(f"**{WARNING} {block.text}**" if block.warning else block.text)
            elif isinstance(block, Table):
                lines += _md_table(block)
            else:
                lines += [f"![{block.caption}]({block.path})", "", f"*{block.caption}*"]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_html(document: Document, pngs: Mapping[str, bytes]) -> str:
    """The report as one HTML page that needs nothing else: the PNGs (by figure name) inlined."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    uris = {
        name: "data:image/png;base64," + base64.b64encode(png).decode()
        for name, png in pngs.items()
    }
    return environment.get_template("report.html.j2").render(
        document=document, uris=uris, warning=WARNING
    )


def draw_all(figures: Sequence[Figure]) -> dict[str, bytes]:
    return {figure.name: figure.draw() for figure in figures}
