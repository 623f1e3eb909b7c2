"""Every printed table: the number formatters, a Rich table of titled, justified columns and the
console it prints on; and the bench run's own summary and fault tables.

Light on purpose (Rich only): the command line and the self-checks print with it, so it must
not bring matplotlib or Locust into their processes. The report's Markdown and HTML use the same
formatters, so a figure reads the same printed and in the report.
"""

from __future__ import annotations

import sys
from collections.abc import Container, Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.analyse.bottomline import BottomLine
from bench.analyse.capacity import MAX_SPREAD
from bench.analyse.headline import SCENARIO_COLUMNS, scenario_figures

MISSING = "–"  # no figure, in the bench's tables and the report
NOT_AVAILABLE = "n/a"  # no figure, in the self-checks' tables


def number(
    value: float | None,
    digits: int = 1,
    scale: float = 1.0,
    *,
    unit: str = "",
    missing: str = MISSING,
) -> str:
    """`value × scale` with `digits` decimals and its unit, or `missing` when there is none."""
    return missing if value is None else f"{value * scale:.{digits}f}{unit}"


def share(value: float | None, missing: str = MISSING) -> str:
    """A share as a whole percentage, e.g. '97%'."""
    return missing if value is None else f"{value:.0%}"


def median_range(spread: Mapping[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    """Median (min–max) of `bench.analyse.runs.spread`, e.g. '12.3 (11.9–13.0)', even of one."""
    if spread["median"] is None:
        return NOT_AVAILABLE
    median, low, high = (float(spread[k] or 0.0) * scale for k in ("median", "min", "max"))
    return f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def table(
    title: str, columns: Iterable[str], left: Container[str] = (), no_wrap: bool = False
) -> Table:
    """A table of right-justified figures; the `left` columns (names, prose) are left-justified."""
    out = Table(title=title)
    for column in columns:
        out.add_column(column, justify="left" if column in left else "right", no_wrap=no_wrap)
    return out


def stdout(piped_width: int = 160) -> Console:
    """A console on stdout: the terminal's width, or `piped_width` when stdout is a file or a
    pipe (Rich would assume 80 columns and wrap the tables)."""
    return Console(width=None if sys.stdout.isatty() else piped_width)


def render(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the headline figures of a run's summary.json."""
    console = console or stdout()
    out = table(
        f"archbench — {summary['status']} run; steady rate {summary.get('rate_rps')} req/s",
        ("arch", "scenario", "runs", *SCENARIO_COLUMNS),
        left=("arch", "scenario"),
    )
    for arch, scenarios in summary["by_arch"].items():
        for scenario, figures in scenarios.items():
            invalid = figures["invalid_runs"]
            runs = f"{figures['runs']}" + (f" [red]({invalid} INVALID)[/red]" if invalid else "")
            if figures.get("spread_flag"):
                runs += " [red](SPREAD)[/red]"
            out.add_row(arch, scenario, runs, *scenario_figures(figures))
    if summary["by_arch"]:
        console.print(out)
        console.print(
            "Latencies are from each request's intended send time (open loop); median "
            "(min–max) over repetitions; capacity: median [95% interval], ≥ for a lower bound, "
            f"SPREAD where repetitions differ by over {MAX_SPREAD:.0%} of their median."
        )
        for line in capacity_lines(summary):
            console.print(line, highlight=False)
    if summary.get("faults"):
        render_faults(summary["faults"], console)


def capacity_lines(summary: dict[str, Any]) -> list[str]:
    """The capacity ratio with its interval, and each capacity against the in-process pipeline
    measured beside its search."""
    lines = []
    for pair, entry in (summary.get("ratios") or {}).items():
        for figure, name in (("capacity_rps", "capacity"), ("capacity_multiple", "calibrated")):
            found = (entry or {}).get(figure)
            if found:
                lines.append(
                    f"{pair} {name}: {found['median']:.2f} [{found['low']:.2f}–"
                    f"{found['high']:.2f}] over {found['n']} paired repetitions"
                )
    for arch, scenarios in summary.get("by_arch", {}).items():
        figures = scenarios.get("capacity") or {}
        multiple = (figures.get("capacity_multiple") or {}).get("median")
        calibration = (figures.get("calibration_rps") or {}).get("median")
        saturation = (figures.get("saturation_rps") or {}).get("median")
        if multiple is not None and calibration:
            lines.append(
                f"{arch}: capacity {multiple:.2f}× the in-process pipeline ({calibration:.0f} "
                f"req/s on the same CPU); saturation throughput {saturation or 0:.0f} req/s"
            )
    return lines


FAULT_COLUMNS = ("arch", "fault", "stage", "gateway", "predict ok", "predict p99 ms", "degraded",
                 "validate ok", "validate p99 ms", "kept serving", "restart s",
                 "predict back after s")  # fmt: skip


def render_faults(entries: list[dict[str, Any]], console: Console) -> None:
    """One row per fault run: what kept serving while one stage was broken."""
    out = table(
        "failure isolation — answered as asked during the fault",
        FAULT_COLUMNS,
        left=("arch", "fault"),
    )
    for entry in entries:
        endpoints = entry.get("endpoints") or {}
        predict, validate = endpoints.get("predict", {}), endpoints.get("validate", {})
        kept = ", ".join(n for n, ok in (entry.get("kept_serving") or {}).items() if ok) or "none"
        invalid = "" if entry["validity"]["valid"] else " [red](INVALID)[/red]"
        out.add_row(
            entry["arch"] + invalid,
            entry["fault"],
            entry["stage"],
            "resilient" if entry["resilience"] else "plain",
            share(predict.get("success_rate_during_fault")),
            number(predict.get("p99_during_fault_ms"), 0),
            str(predict.get("degraded", "–")),
            share(validate.get("success_rate_during_fault")),
            number(validate.get("p99_during_fault_ms"), 0),
            kept,
            number(entry.get("restart_s")),
            number(predict.get("recovery_s")),
        )
    console.print(out)
    console.print(
        "ok: answered with the expected status (degraded 203 fallbacks are not ok); kept "
        "serving: >= 99% ok and p99 within the SLO while the stage was broken."
    )


def render_bottom_line(line: BottomLine, console: Console | None = None) -> None:
    """The run's answer in sentences (bench.analyse.bottomline), as the report opens with it."""
    console = console or stdout()
    console.rule("bottom line")
    for sentence in line.sentences:
        console.print(sentence, highlight=False, markup=False)
