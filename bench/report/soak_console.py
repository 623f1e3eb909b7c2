"""The table `archbench soak` prints: each service's RSS slope, descriptors and connections."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bench.report.console import MISSING, number, table

COLUMNS = ("service", "RSS MiB start→end", "RSS slope MiB/min", "open fds", "connections", "leak")


def soak_table(data: dict[str, Any]) -> Table:
    """One row per service of a soak's analysis (bench.analyse.soak), leaks named."""
    title = (
        f"soak of {data['arch']}: {data['duration_s']:.0f} s at {data['rate_rps']:g} req/s "
        f"(analysed after {data['warmup_s']:g} s)"
    )
    out = table(title, COLUMNS, left=("service", "leak"))
    for name, s in data["services"].items():
        out.add_row(
            name,
            _edges(s["rss_mib"], 1),
            number(s["rss_slope_mib_per_min"], 2, missing=MISSING),
            _edges(s["open_fds"]),
            _edges(s["connections"]),
            "; ".join(s["leaks"]) or "no",
        )
    return out


def _edges(levels: dict[str, float], digits: int = 0) -> str:
    return f"{levels['start']:.{digits}f}→{levels['end']:.{digits}f}"


def bounds_line(data: dict[str, Any]) -> str:
    """The bounds a leak is judged by, and the verdict."""
    b = data["bounds"]
    verdict = "LEAK flagged" if data["leak"] else "no leak"
    return (
        f"{verdict} (bounds: RSS slope ≤ {b['rss_slope_mib_per_min']:g} MiB/min, open fds "
        f"growth ≤ {b['open_fds_growth']}, connections growth ≤ {b['connections_growth']})"
    )
