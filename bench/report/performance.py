"""The report's sections on load, latency and resources: the headline table, every scenario's
figures, the knee curves, the percentile spectrum, latency over time, where the time goes, and
CPU and memory by service. Numbers come from summary.json, or from the raw records by
bench.analyse.runs; nothing is typed in."""

from __future__ import annotations

import statistics
from typing import Any

from bench.analyse import breakdown, headline
from bench.analyse import runs as analysis
from bench.measure import hdr, latency
from bench.report.console import capacity_lines, number
from bench.report.document import Cell, Figure, Paragraph, Section, Table, cells
from bench.report.figures import performance as draw
from bench.store.stored import StoredRun
from pipeline.stages import STAGE_NAMES

# The spectrum's percentiles: 0, then 1 - 10^(-k/10) up to 99.99 (even steps on its log axis).
SPECTRUM = tuple(100 * (1 - 10 ** (-k / 10)) for k in range(0, 41))
SPECTRUM_TABLE = ("p50", "p90", "p99", "p99.9", "max")
MiB = 2**20


def headline_section(run: StoredRun) -> Section:
    figures = headline.headline(run)
    columns = ("architecture", *(f"{m.label} ({m.unit})" for m in headline.METRICS))
    rows = tuple(
        (
            Cell(arch),
            *(
                Cell(headline.format_value(m, figures[arch][m.name]), figures[arch][m.name].flags)
                for m in headline.METRICS
            ),
        )
        for arch in figures
    )
    rate = run.summary.get("rate_rps")
    text = (
        f"Median (min–max) over repetitions ({run.config.get('repeat', '?')} of each). "
        f"Capacity: the highest offered rate whose p99 stayed within {run.slo_ms:g} ms with under "
        f"{analysis.MAX_ERROR_RATE:.0%} errors, found by a search that brackets and bisects the "
        "knee and confirms both ends; shown as the median over repetitions with its 95% "
        "interval in brackets (a bootstrap over the repetitions of each search's bracket ends), "
        "'≥' where a search never failed. The common load is the steady scenario's "
        f"{rate if rate is not None else '–'} req/s, the same for every architecture; latencies "
        "count from each request's intended send time. CPU per 1,000 requests and memory are "
        "the stack cgroup's. ⚠ marks figures from runs that are invalid or noisy, with the reason "
        "(in the HTML: click the mark)."
    )
    parts: list[Paragraph | Table | Figure] = [Paragraph(text), Table(columns, rows)]
    ratio = capacity_ratio_text(run)
    if ratio:
        parts.append(Paragraph(ratio))
    return Section("Headline", "headline", tuple(parts))


def capacity_ratio_text(run: StoredRun) -> str | None:
    """The capacity ratio with its interval, and each capacity as a multiple of the machine's
    in-process pipeline measured beside it: the figure that travels across machines."""
    lines = capacity_lines(run.summary)
    return "; ".join(lines) + "." if lines else None


def scenarios_section(run: StoredRun) -> Section:
    columns = ("architecture", "scenario", "runs", *headline.SCENARIO_COLUMNS)
    rows = tuple(
        (
            *cells(arch, scenario),
            Cell(str(figures["runs"]), headline.run_flags(run, scenario, arch)),
            *cells(*headline.scenario_figures(figures)),
        )
        for arch in run.archs
        for scenario, figures in (run.summary.get("by_arch") or {})[arch].items()
    )
    text = (
        "Every scenario on every architecture, median (min–max) over repetitions; for capacity, "
        "latency and throughput are those of the trial at capacity."
    )
    return Section("Every scenario", "scenarios", (Paragraph(text), Table(columns, rows)))


def load_section(run: StoredRun) -> Section:
    steps = {
        arch: [s.get("steps") or [] for _, s in run.runs("capacity", arch)] for arch in run.archs
    }
    steps = {arch: reps for arch, reps in steps.items() if any(reps)}
    if not steps:
        return Section("Latency against load", "load", (_not_run("capacity"),))
    values = {a: headline.value(run, a, headline.BY_NAME["capacity"]) for a in steps}
    capacity = {a: v.median for a, v in values.items()}
    brackets = {
        a: ((v.spread or {}).get("low"), (v.spread or {}).get("high")) for a, v in values.items()
    }
    flags = [f"{a} {flag}" for a in steps for flag in headline.run_flags(run, "capacity", a)]
    warnings = [Paragraph("In these curves: " + "; ".join(flags), warning=True)] if flags else []
    return Section(
        "Latency against load",
        "load",
        (
            *warnings,
            Figure(
                "knee",
                "Every trial of every capacity search: p99 (squares: filled met the SLO, hollow "
                "did not; solid line) and p50 (dashed) against offered load, one line per "
                f"repetition; the SLO line at {run.slo_ms:g} ms, each architecture's capacity "
                "(median, dotted) and its interval (shaded).",
                lambda: draw.knee(steps, capacity, run.slo_ms, brackets),
            ),
            Figure(
                "throughput",
                "Achieved against offered throughput in each capacity trial: below the diagonal, "
                "the stack no longer keeps up.",
                lambda: draw.throughput(steps, capacity),
            ),
        ),
    )


def _pooled(run: StoredRun, scenario: str, arch: str) -> Any:
    """The intended-latency histogram of every measured request of a scenario, over all reps."""
    total = latency.histogram()
    for key, _ in run.runs(scenario, arch):
        record = run.record(key)
        if record is not None:
            total.add(analysis.merged(record, "intended", analysis.measured_bins(record)))
    return total if total.get_total_count() else None


def spectrum_section(run: StoredRun) -> Section:
    pooled = {arch: h for arch in run.archs if (h := _pooled(run, "steady", arch)) is not None}
    if not pooled:
        title = "Latency spectrum at the common load"
        if any(run.runs("steady", arch) for arch in run.archs):
            missing = "Not measured: the steady runs left no raw latency record in this folder."
            return Section(title, "spectrum", (Paragraph(missing),))
        return Section(title, "spectrum", (_not_run("steady"),))
    curves = {
        arch: [(p, v / 1e3) for p, v in hdr.percentiles(h, SPECTRUM).items()]
        for arch, h in pooled.items()
    }
    rows = []
    for arch, h in pooled.items():
        summary = latency.summary_ms(h)
        rows.append(
            (
                _flagged(run, "steady", arch),
                *cells(str(summary["count"]), *(number(summary[p]) for p in SPECTRUM_TABLE)),
            )
        )
    rate = run.summary.get("rate_rps")
    table = Table(
        ("architecture", "requests", *(f"{p} ms" for p in SPECTRUM_TABLE)),
        tuple(rows),
        "Every measured request of every steady repetition pooled (raw HDR histograms).",
    )
    figure = Figure(
        "spectrum",
        "Latency by percentile at the common load (log scales, HDR style): the further right, "
        "the rarer the request.",
        lambda: draw.spectrum(curves, rate),
    )
    return Section("Latency spectrum at the common load", "spectrum", (figure, table))


def _windows(run: StoredRun, scenario: str) -> list[tuple[float, float, str]]:
    """Shaded spans of a scenario's schedule: the warm-up, and the spike's burst."""
    key = next((k for a in run.archs for k, _ in run.runs(scenario, a)), None)
    record = run.record(key) if key else None
    schedule = analysis.schedule_of(record) if record else None
    if schedule is None:
        return []
    spans = [(0.0, schedule.warmup_s, "warm-up (not measured)")] if schedule.warmup_s else []
    if scenario == "spike" and len(schedule.steps) == 3:
        burst = schedule.steps[1]
        spans.append((burst.start_s, burst.end_s, f"spike: {burst.rate:.0f} req/s"))
    return spans


def over_time_section(run: StoredRun) -> Section:
    series = {}
    for scenario in ("steady", "spike"):
        per_arch = {
            arch: [s.get("over_time") or [] for _, s in run.runs(scenario, arch)]
            for arch in run.archs
        }
        per_arch = {a: reps for a, reps in per_arch.items() if any(reps)}
        if per_arch:
            series[scenario] = per_arch
    if not series:
        return Section("Latency over time", "over-time", (_not_run("steady or spike"),))
    windows = {s: _windows(run, s) for s in series}
    blocks: list[Any] = [
        Figure(
            "over-time",
            "p50 (dashed) and p99 (solid) per second in the steady and spike scenarios, every "
            "repetition, on one latency scale; grey: the warm-up and the spike.",
            lambda: draw.over_time(series, windows),
        )
    ]
    recovery = [
        (arch, [s.get("recovery") or {} for _, s in run.runs("spike", arch)]) for arch in run.archs
    ]
    rows = tuple(
        (
            _flagged(run, "spike", arch),
            *cells(
                *(
                    headline.format_spread(analysis.spread([r.get(key) for r in reps]))
                    for key in ("baseline_p99_ms", "spike_p99_ms", "recovered_after_s")
                )
            ),
        )
        for arch, reps in recovery
        if reps
    )
    if rows:
        columns = ("architecture", "p99 before the spike ms", "p99 in the spike ms",
                   "p99 back to its baseline after s")  # fmt: skip
        blocks.append(Table(columns, rows, "Spike recovery, median (min–max) over repetitions."))
    return Section("Latency over time", "over-time", tuple(blocks))


def time_section(run: StoredRun) -> Section:
    splits = {arch: s for arch in run.archs if (s := breakdown.split(run, arch)) is not None}
    if not splits:
        return Section("Where the time goes", "time", (_not_run("any load"),))
    names = STAGE_NAMES
    columns = ("architecture", "scenario", *(f"{n} ms" for n in names),
               *(f"{n}-hop ms" for n in names), "entry process ms", "handled ms",
               "client ↔ entry ms", "seen by the client ms")  # fmt: skip
    rows = []
    for arch, split in splits.items():
        rows.append(
            (
                _flagged(run, split.scenario, arch),
                *cells(
                    split.scenario,
                    *(number(split.stages_ms.get(n), 3) for n in names),
                    *(number(split.hops_ms.get(n), 3) for n in names),
                    number(split.entry_ms, 3),
                    number(split.total_ms, 3),
                    number(split.outside_ms, 3),
                    number(split.client_ms, 3),
                ),
            )
        )
    text = (
        f"Mean time per `{breakdown.REQUEST}` request (one record, all four stages), from the "
        "Server-Timing header of every successful measured request: each stage's own compute, "
        "each network hop (the gateway's round trip to a stage minus the stage's own time: wire, "
        "serialisation, the stage's HTTP framework), the entry process's own work in its "
        "handler, and between the client and the entry's handler. The hops are the "
        "architecture's tax."
    )
    figure = Figure(
        "time-split",
        "Where a prediction's time goes, stacked: compute per stage, hops hatched.",
        lambda: draw.time_split(splits),
    )
    return Section(
        "Where the time goes", "time", (Paragraph(text), figure, Table(columns, tuple(rows)))
    )


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def resources_section(run: StoredRun) -> Section:
    per_service: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    totals: dict[str, tuple[float | None, float | None]] = {}
    rows = []
    for arch in run.archs:
        used = [s.get("resources") or {} for _, s in run.runs("steady", arch)]
        used = [u for u in used if u]
        if not used:
            continue
        names = sorted({n for u in used for n in u.get("services", {})})
        per_service[arch] = {}
        for name in names:
            figures = [u["services"].get(name, {}) for u in used]
            cpu = _median([f.get("cpu_ms_per_request") for f in figures])
            pss = _median([f.get("pss_bytes_mean") for f in figures])
            rss = _median([f.get("rss_bytes_max") for f in figures])
            per_service[arch][name] = (cpu, None if pss is None else pss / MiB)
            rows.append(
                cells(arch, name, number(cpu, 3), number(pss, 0, 1 / MiB), number(rss, 0, 1 / MiB))
            )
        cpu = _median([u.get("cpu_ms_per_request") for u in used])
        memory = _median([u.get("cgroup_memory_bytes_max") for u in used])
        totals[arch] = (cpu, None if memory is None else memory / MiB)
        stack = cells("whole stack (cgroup)", number(cpu, 3), number(totals[arch][1], 0), "–")
        rows.append((_flagged(run, "steady", arch), *stack))
    if not per_service:
        return Section("CPU and memory by service", "resources", (_not_run("steady"),))
    figure = Figure(
        "resources",
        "CPU-ms per request and memory (PSS) at the common load, stacked by service; the black "
        "bar is the whole stack's cgroup (CPU; memory at its highest).",
        lambda: draw.resources(per_service, totals),
    )
    table = Table(
        (
            "architecture",
            "service",
            "CPU-ms per request",
            "memory MiB: PSS mean (service), cgroup max (stack)",
            "RSS max MiB",
        ),  # fmt: skip
        tuple(rows),
        "Steady scenario, median over repetitions.",
    )
    return Section("CPU and memory by service", "resources", (figure, table))


def _flagged(run: StoredRun, scenario: str, arch: str) -> Cell:
    """The architecture's cell of a row, flagged when the scenario's runs are not to be trusted."""
    return Cell(arch, headline.run_flags(run, scenario, arch))


def _not_run(scenario: str) -> Paragraph:
    return Paragraph(f"Not measured: the {scenario} scenario was not run in this run.")
