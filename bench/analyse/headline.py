"""The headline figures of a run per architecture: what the report leads with and what
`archbench compare` guards. Pure functions of summary.json, each with its spread and its flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.analyse.capacity import MAX_SPREAD
from bench.store.stored import StoredRun

NOT_MEASURED = "not measured in this run"


@dataclass(frozen=True)
class Metric:
    """One headline figure: where it comes from in summary.json and how it is shown."""

    name: str  # the name `compare --fail-on` knows it by
    label: str
    unit: str
    scenario: str  # the scenario whose runs give it ("" when it does not come from one)
    key: str  # the figure in by_arch[arch][scenario]
    scale: float  # stored unit → shown unit
    digits: int
    higher_is_better: bool


METRICS: tuple[Metric, ...] = (
    Metric("capacity", "capacity at the SLO", "req/s", "capacity", "capacity_rps", 1, 0, True),
    Metric("p50", "p50 at the common load", "ms", "steady", "p50_ms", 1, 1, False),
    Metric("p99", "p99 at the common load", "ms", "steady", "p99_ms", 1, 1, False),
    Metric("errors", "errors at the common load", "%", "steady", "error_rate", 100, 2, False),
    # CPU-ms per request × 1,000 requests = CPU-seconds per 1,000 requests: the same number.
    Metric("cpu", "CPU per 1,000 requests", "CPU-s", "steady", "cpu_ms_per_request", 1, 2, False),
    Metric(
        "memory", "memory of the whole stack", "MiB", "steady", "memory_bytes", 2**-20, 0, False
    ),
    Metric("cost", "cost per million predictions", "USD", "", "usd_per_million", 1, 3, False),
)
BY_NAME = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class Value:
    """A headline figure of one architecture: median, min, max and n over repetitions (None when
    there is no figure, `note` then says why), and the flags that say what to distrust."""

    spread: dict[str, Any] | None
    flags: tuple[str, ...] = ()
    note: str = NOT_MEASURED

    @property
    def median(self) -> float | None:
        return self.spread["median"] if self.spread else None


def format_spread(spread: dict[str, Any] | None, scale: float = 1.0, digits: int = 1) -> str:
    """Median with its range over repetitions, e.g. '12.3 (11.9–13.0)'; '–' for no figure. A
    capacity (with an interval: bench.analyse.capacity.figures) shows its interval in brackets,
    '≥' when a search never failed and an open end when the interval has none."""
    if not spread or spread.get("median") is None:
        return "–"
    if "low" in spread:
        return format_interval(spread, scale, digits)
    median, low, high = (spread[k] * scale for k in ("median", "min", "max"))
    if spread.get("n", 0) > 1:
        return f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"
    return f"{median:.{digits}f}"


def format_interval(spread: dict[str, Any], scale: float = 1.0, digits: int = 0) -> str:
    """A capacity: '631 [600–690]', '≥ 900 [880–…]' when some search never failed."""
    lower = "lower" in (spread.get("bounds") or ())
    median = spread["median"] * scale
    low, high = spread.get("low"), spread.get("high")
    low_text = "…" if low is None else f"{low * scale:.{digits}f}"
    high_text = "…" if high is None else f"{high * scale:.{digits}f}"
    return f"{'≥ ' if lower else ''}{median:.{digits}f} [{low_text}–{high_text}]"


# The figures of one scenario on one architecture, as the printed table and the report show them.
SCENARIO_COLUMNS = ("capacity req/s", "throughput req/s", "p50 ms", "p99 ms", "errors %",
                    "CPU ms/req", "memory MiB")  # fmt: skip


def scenario_figures(figures: dict[str, Any]) -> list[str]:
    """by_arch[arch][scenario] shown in SCENARIO_COLUMNS, each as median (min–max)."""
    return [
        format_spread(figures.get("capacity_rps"), digits=0),
        format_spread(figures["throughput_rps"], digits=0),
        format_spread(figures["p50_ms"]),
        format_spread(figures["p99_ms"]),
        format_spread(figures["error_rate"], 100, 2),
        format_spread(figures["cpu_ms_per_request"], digits=2),
        format_spread(figures["memory_bytes"], 2**-20, 0),
    ]


def format_value(metric: Metric, value: Value) -> str:
    return format_spread(value.spread, metric.scale, metric.digits) if value.spread else value.note


def run_flags(run: StoredRun, scenario: str, arch: str) -> tuple[str, ...]:
    """Why runs of a scenario are not to be trusted: invalid runs, capacity searches that are
    censored (a bound, not a figure) or unconverged, and repetitions that disagree."""
    flags = []
    for key, summary in run.runs(scenario, arch):
        rep = key.rsplit("/", 1)[1]
        reasons = (summary.get("validity") or {}).get("reasons") or []
        if not (summary.get("validity") or {}).get("valid", False):
            flags.append(f"invalid: {rep}: {'; '.join(reasons) or 'no reason recorded'}")
        flags += capacity_flags(rep, summary)
    figures = (run.summary.get("by_arch") or {}).get(arch, {}).get(scenario) or {}
    if figures.get("spread_flag"):
        relative = figures["capacity_rps"].get("relative_spread") or 0.0
        flags.append(
            f"spread: the repetitions' capacities differ by {relative:.0%} of their median "
            f"(limit {MAX_SPREAD:.0%})"
        )
    return tuple(flags)


def capacity_flags(rep: str, summary: dict[str, Any]) -> list[str]:
    """A capacity search's own flags: a bound instead of a figure, a bracket left wide."""
    bound = summary.get("capacity_bound")
    if bound is None:
        return []
    if bound == "lower":
        return [f"bound: {rep}: every trial met the SLO; the capacity is at least this"]
    if bound == "upper":
        high = summary.get("capacity_high_rps") or 0.0
        return [f"bound: {rep}: no trial met the SLO; the capacity is below {high:.0f} req/s"]
    if bound == "exact" and not summary.get("capacity_converged"):
        return [f"unconverged: {rep}: the search ran out of trials before its bracket closed"]
    return []


def _cost(run: StoredRun, arch: str) -> Value:
    figures = (run.summary.get("cost") or {}).get(arch)
    if not figures or figures.get("usd_per_million") is None:
        return Value(None)
    spread = (figures.get("spread") or {}).get("usd_per_million")
    if not spread:
        usd = figures["usd_per_million"]
        spread = {"median": usd, "min": usd, "max": usd, "n": 1}
    return Value(spread, run_flags(run, "steady", arch))


def value(run: StoredRun, arch: str, metric: Metric) -> Value:
    """One headline figure of one architecture."""
    if metric.name == "cost":
        return _cost(run, arch)
    figures = (run.summary.get("by_arch") or {}).get(arch, {}).get(metric.scenario)
    if figures is None:
        return Value(None, note=f"not measured: the {metric.scenario} scenario was not run")
    spread = figures.get(metric.key)
    flags = run_flags(run, metric.scenario, arch)
    if not spread or spread.get("median") is None:
        none_passed = metric.name == "capacity" and figures.get("runs")
        return Value(None, flags, "no step met the SLO" if none_passed else NOT_MEASURED)
    return Value(spread, flags)


def headline(run: StoredRun) -> dict[str, dict[str, Value]]:
    """Every headline figure of every architecture in the run."""
    return {arch: {m.name: value(run, arch, m) for m in METRICS} for arch in run.archs}
