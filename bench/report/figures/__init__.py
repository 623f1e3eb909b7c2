"""The report's figures, drawn with matplotlib (Agg, no display, no pyplot global state).

Imported only by the report process: matplotlib never shares a process with Locust's gevent
patching. Every architecture has one colour in every figure, and figures that compare them share
their axes and scales.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib: no display, deterministic output

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

ARCH_COLORS = {"monolith": "#1f6fb4", "micro": "#d9531e", "micro-flask": "#6a9a23"}
STAGE_COLORS = {
    "ingest": "#8da0cb",
    "validate": "#66c2a5",
    "features": "#fc8d62",
    "score": "#e78ac3",
    "gateway": "#a6a6a6",
    "monolith": "#1f6fb4",
}
OTHER_COLOR = "#7f7f7f"
DPI = 110


def arch_color(arch: str) -> str:
    return ARCH_COLORS.get(arch, OTHER_COLOR)


def new_figure(width_in: float = 9.0, height_in: float = 4.5, **subplots: object) -> Figure:
    """A figure outside pyplot (nothing global), with a grid of axes via `subplots`."""
    figure = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    figure.subplots(**subplots)  # type: ignore[call-overload]
    return figure


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, without the timestamp metadata that would make runs differ."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def empty(ax: Axes, text: str) -> None:
    """An axes that says what is missing instead of showing nothing."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_xticks([])
    ax.set_yticks([])
