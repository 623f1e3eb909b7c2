"""What `archbench loadperf` prints: every figure against its target, and how the figures were
taken, with the exact commands."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import partial

from rich.table import Table

from bench.analyse import runs as analysis
from bench.report.console import NOT_AVAILABLE, median_range, share
from bench.selfcheck.conditions import MAX_FOREIGN_SHARE, budget_text, cpu_list, skew_warning
from bench.selfcheck.loadperf import generators
from bench.selfcheck.loadperf.result import PROBE, USERS, WRK, CostRun, LoadPerfResult
from bench.selfcheck.rounds import Figure, cell, figure, legend, paired, per_round
from bench.selfcheck.targets import interval_verdict, targets_table, verdict

MAX_GENERATOR_US_PER_REQUEST = 150.0
MAX_CAPTURE_COST = 0.05
MAX_WRK_GAP = 0.15


def capture_costs(costs: Sequence[CostRun]) -> list[float]:
    """Per pair: CPU per logged request with capture over without, minus one."""
    return [r - 1 for r in capture_figure(costs).values]


def capture_figure(costs: Sequence[CostRun]) -> Figure:
    """CPU per logged request with capture over without, per pair (the pairs are ABBA)."""
    with_ = [c.us_per_logged for c in costs if c.capture]
    without = [c.us_per_logged for c in costs if not c.capture]
    return paired("with / without capture", with_, without)


def wrk_figures(result: LoadPerfResult) -> list[Figure]:
    """Per stack, each Locust load's req/s over wrk's of the same round."""
    out = []
    for arch, loads in result.saturation.items():
        served = [load.rps for load in loads[WRK]]
        for name in (USERS, PROBE):
            out.append(paired(f"{arch}: {name} / wrk", [x.rps for x in loads[name]], served))
    return out


def targets(result: LoadPerfResult) -> Table:
    """Every figure against its target, judged on its interval."""
    table = targets_table("load generator targets (median (95% interval) over runs)")
    captured = [c for c in result.costs if c.capture]
    us = figure("generator CPU per request", [c.us_per_request for c in captured])
    table.add_row(
        us.name,
        f"{cell(us, 1)} µs",
        f"≤ {MAX_GENERATOR_US_PER_REQUEST:g} µs",
        interval_verdict(us.interval, partial(operator.ge, MAX_GENERATOR_US_PER_REQUEST)),
        f"record's generator_cpu_s / sent in measured bins, {len(captured)} runs at "
        f"{result.config.rate:g} req/s",
    )
    shares = [c.cpu_share for c in captured]
    table.add_row(
        "generator CPU share of its core",
        median_range(analysis.spread(shares), 100, 0) + " %",
        f"< {analysis.MAX_GENERATOR_CPU_SHARE:.0%}",
        verdict(max(shares) < analysis.MAX_GENERATOR_CPU_SHARE if shares else None),
        "generator_cpu_s / measured_wall_s, median (min–max), every run",
    )
    valid = sum(1 for c in captured if c.validity is not None and c.validity.valid)
    table.add_row(
        "valid cost runs",
        f"{valid}/{len(captured)}",
        "all",
        verdict(valid == len(captured)),
        "analysis.validity: generator CPU, achieved vs scheduled rate, send delay, other work",
    )
    costs = capture_figure(result.costs)
    table.add_row(
        "exact-latency capture: CPU " + costs.name,
        cell(costs),
        f"≤ {1 + MAX_CAPTURE_COST:g}",
        interval_verdict(costs.interval, partial(operator.ge, 1 + MAX_CAPTURE_COST)),
        "CPU per request with / without --no-latency-capture, per pair; requests from "
        "Locust's JSON in the measured window",
    )
    for fig in wrk_figures(result):
        table.add_row(
            fig.name,
            cell(fig),
            f"1 ± {MAX_WRK_GAP:.0%}",
            interval_verdict(fig.interval, lambda r: abs(r - 1) <= MAX_WRK_GAP),
            f"per round; {result.config.connections} connections, closed loop, same stack",
        )
    return table


def conditions(result: LoadPerfResult) -> list[str]:
    """How the figures were taken, with the exact commands."""
    config = result.config
    gen, sut = cpu_list(result.generator_cpus), cpu_list(result.sut_cpus)
    budgets = "; ".join(f"{arch}: {budget_text(a)}" for arch, a in result.applied.items())
    lines = [f"stacks on CPU {sut} ({budgets}); Locust, wrk and this process on CPU {gen}"]
    for c in result.costs:
        reasons = "" if c.validity is None or c.validity.valid else f" INVALID {c.validity.reasons}"
        exact = "" if c.us_per_request is None else f"{c.us_per_request:.1f} µs per sent, "
        lines.append(
            f"cost {'with' if c.capture else 'without'} capture: generator {c.cpu_s:.3f} s CPU "
            f"in {c.wall_s:.3f} s; {c.recorded if c.recorded is not None else '–'} sent "
            f"(record), {c.logged:,.0f} logged (Locust); {exact}{c.us_per_logged:.1f} µs per "
            f"logged; {c.failures} failures{reasons}"
        )
    costs = capture_costs(result.costs)
    if costs:
        lines.append(f"capture cost per pair: {', '.join(f'{c:.1%}' for c in costs)}")
    for arch, loads in result.saturation.items():
        parts = []
        for name, runs in loads.items():
            rps = figure(name, [load.rps for load in runs])
            generator = figure(name, [load.generator_share for load in runs])
            sut_ms = figure(name, [load.sut_ms_per_request for load in runs])
            parts.append(
                f"{name} {cell(rps, 0)} req/s, per round {per_round(rps, 0)} "
                f"({sum(load.failed for load in runs)} failed"
                + ("" if generator.median is None else f", generator CPU {generator.median:.0%}")
                + ("" if sut_ms.median is None else f", stack {sut_ms.median:.2f} CPU-ms/request")
                + ")"
            )
        lines.append(f"{arch}: {'; '.join(parts)}")
    lines.append(
        f"saturation: {config.rounds} rounds per stack of Locust users ({config.saturation_s} s), "
        f"wrk ({config.wrk_s} s) and the capacity probe ({config.probe_s:g} s), in that order "
        "and reversed in turn (ABBA); "
        f"Locust users' req/s: record bins from {config.skip_s:g} s to the last full one; "
        "probe: the record's estimate_rps; stack CPU-ms/request: cgroup CPU over each whole run "
        "/ its requests (start-up included)"
    )
    worst = {phase: _worst(shares) for phase, shares in result.foreign.items()}
    foreign = ", ".join(
        f"{phase} {g:.0%}/{share(s, NOT_AVAILABLE)}" for phase, (g, s) in worst.items()
    )
    lines.append(f"CPU taken by other work (generator CPU/SUT CPU), worst run: {foreign}")
    lines += generators.lines(result.generators, result.generator_cpus, result.sut_cpus)
    commands = {
        f"cost {'with' if c.capture else 'without'} capture": c.command for c in result.costs
    }
    for arch, loads in result.saturation.items():
        commands.update({f"{arch} {name}": runs[0].command for name, runs in loads.items() if runs})
    lines += [f"{name}: {' '.join(argv)}" for name, argv in commands.items()]
    lines.append(
        f"Locust runs are pinned to CPU {gen} (sched_setaffinity); payloads: seed {config.seed}; "
        f"cost runs: every request an invalid /validate record (expected 422); saturation: single "
        f"valid /predict records, the same pool for wrk ({result.out}/predict.lua) and Locust; "
        f"records and Locust logs in {result.out}"
    )
    skewed = [
        phase
        for phase, (g, s) in worst.items()
        if g > MAX_FOREIGN_SHARE or (s or 0) > MAX_FOREIGN_SHARE
    ]
    figures = [capture_figure(result.costs), *wrk_figures(result)]
    over = f"{config.repeats} ABBA pairs of cost runs, or {config.rounds} interleaved rounds"
    return lines + legend(figures, over) + skew_warning(skewed, "a CPU")


def _worst(shares: Sequence[tuple[float, float | None]]) -> tuple[float, float | None]:
    sut = [s for _, s in shares if s is not None]
    return max(g for g, _ in shares), max(sut) if sut else None
