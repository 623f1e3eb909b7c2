"""The Server-Timing header: each stage's own time and, across the network, each hop's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

HOP_SUFFIX = "-hop"


def header(entries: Iterable[tuple[str, float]]) -> str:
    """Format (name, milliseconds) pairs as a Server-Timing value."""
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in entries)


def parse(value: str | None) -> dict[str, float]:
    """Parse a Server-Timing value into {name: milliseconds}; entries without dur are skipped."""
    result: dict[str, float] = {}
    for entry in (value or "").split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, number = param.partition("=")
            if key == "dur" and name:
                with contextlib.suppress(ValueError):
                    result[name] = float(number)
    return result
