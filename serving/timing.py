"""The Server-Timing header: each stage's own time and, across the network, each hop's."""

from __future__ import annotations

from collections.abc import Iterable

HOP_SUFFIX = "-hop"


def header(entries: Iterable[tuple[str, float]]) -> str:
    """Format (name, milliseconds) pairs as a Server-Timing value."""
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in entries)


def parse(value: str | None) -> dict[str, float]:
    """Parse a Server-Timing value into {name: milliseconds}; entries without dur are skipped."""
    # Runs on every hop in the gateway: plain loops, no per-entry context managers.
    result: dict[str, float] = {}
    if not value:
        return result
    for entry in value.split(","):
        name, *params = entry.split(";")
        name = name.strip()
        if not name:
            continue
        for param in params:
            key, _, number = param.strip().partition("=")
            if key == "dur":
                try:
                    result[name] = float(number)
                except ValueError:
                    continue
    return result
