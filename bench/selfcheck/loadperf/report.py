"""What `archbench loadperf` prints: every figure against its target, and how the figures were
taken, with the exact commands."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from bench.analyse import runs as analysis
from bench.report.console import NOT_AVAILABLE, median_range, number, share
from bench.selfcheck.conditions import MAX_FOREIGN_SHARE, budget_text, cpu_list, skew_warning
from bench.selfcheck.loadperf.result import PROBE, USERS, WRK, CostRun, LoadPerfResult
from bench.selfcheck.targets import targets_table, verdict

MAX_GENERATOR_US_PER_REQUEST = 150.0
MAX_CAPTURE_COST = 0.05
MAX_WRK_GAP = 0.15


def capture_costs(costs: Sequence[CostRun]) -> list[float]:
    """Per repetition: CPU per logged request with capture over without, minus one."""
    with_ = [c for c in costs if c.capture]
    without = [c for c in costs if not c.capture]
    return [w.us_per_logged / n.us_per_logged - 1 for w, n in zip(with_, without, strict=True)]


def targets(result: LoadPerfResult) -> Table:
    """Every figure against its target."""
    table = targets_table("load generator targets (median (min–max) over runs)")
    captured = [c for c in result.costs if c.capture]
    us = analysis.spread([c.us_per_request for c in captured])
    table.add_row(
        "generator CPU per request",
        f"{median_range(us)} µs",
        f"≤ {MAX_GENERATOR_US_PER_REQUEST:g} µs",
        verdict(None if us["median"] is None else us["median"] <= MAX_GENERATOR_US_PER_REQUEST),
        f"record's generator_cpu_s / sent in measured bins, {len(captured)} runs at "
        f"{result.config.rate:g} req/s",
    )
    shares = [c.cpu_share for c in captured]
    table.add_row(
        "generator CPU share of its core",
        median_range(analysis.spread(shares), 100, 0) + " %",
        f"< {analysis.MAX_GENERATOR_CPU_SHARE:.0%}",
        verdict(max(shares) < analysis.MAX_GENERATOR_CPU_SHARE if shares else None),
        "generator_cpu_s / measured_wall_s",
    )
    valid = sum(1 for c in captured if c.validity is not None and c.validity.valid)
    table.add_row(
        "valid cost runs",
        f"{valid}/{len(captured)}",
        "all",
        verdict(valid == len(captured)),
        "analysis.validity: generator CPU, achieved vs scheduled rate, send delay, other work",
    )
    costs = analysis.spread(capture_costs(result.costs))
    table.add_row(
        "exact-latency capture cost",
        median_range(costs, 100) + " %",
        f"≤ {MAX_CAPTURE_COST:.0%}",
        verdict(None if costs["median"] is None else costs["median"] <= MAX_CAPTURE_COST),
        "CPU per request with / without --no-latency-capture − 1, per pair; requests "
        "from Locust's JSON in the measured window",
    )
    for arch, loads in result.saturation.items():
        served = loads[WRK].rps or 0.0
        for name in (USERS, PROBE):
            rps = loads[name].rps
            ratio = rps / served if rps is not None and served else None
            table.add_row(
                f"{arch}: {name} / wrk",
                number(ratio, 3, missing=NOT_AVAILABLE),
                f"1 ± {MAX_WRK_GAP:.0%}",
                verdict(None if ratio is None else abs(ratio - 1) <= MAX_WRK_GAP),
                f"{0 if rps is None else rps:,.0f} / {served:,.0f} req/s; "
                f"{result.config.connections} connections, closed loop, same stack",
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
        straddles = min(costs) <= MAX_CAPTURE_COST < max(costs)
        lines.append(
            f"capture cost per pair: {', '.join(f'{c:.1%}' for c in costs)}"
            + (" — the spread straddles the target: within noise" if straddles else "")
        )
    for arch, loads in result.saturation.items():
        parts = []
        for name, load in loads.items():
            sut_ms = result.sut_ms_per_request(f"{arch} {name}", load)
            generator = load.generator_share
            parts.append(
                f"{name} {load.rps or 0:,.0f} req/s ({load.failed} failed"
                + ("" if generator is None else f", generator CPU {generator:.0%}")
                + ("" if sut_ms is None else f", stack {sut_ms:.2f} CPU-ms/request")
                + ")"
            )
        lines.append(f"{arch}: {'; '.join(parts)}")
    lines.append(
        f"Locust users' req/s: record bins from {config.skip_s:g} s to the last full one; "
        "probe: the record's estimate_rps; stack CPU-ms/request: cgroup CPU over each whole run "
        "/ its requests (start-up included)"
    )
    foreign = ", ".join(
        f"{phase} {g:.0%}/{share(s, NOT_AVAILABLE)}" for phase, (g, s) in result.foreign.items()
    )
    lines.append(f"CPU taken by other work (generator CPU/SUT CPU) during: {foreign}")
    commands = {
        f"cost {'with' if c.capture else 'without'} capture": c.command for c in result.costs
    }
    for arch, loads in result.saturation.items():
        commands.update({f"{arch} {name}": load.command for name, load in loads.items()})
    lines += [f"{name}: {' '.join(argv)}" for name, argv in commands.items()]
    lines.append(
        f"Locust runs are pinned to CPU {gen} (sched_setaffinity); payloads: seed {config.seed}; "
        f"cost runs: every request an invalid /validate record (expected 422); saturation: single "
        f"valid /predict records, the same pool for wrk ({result.out}/predict.lua) and Locust; "
        f"records and Locust logs in {result.out}"
    )
    skewed = [
        phase
        for phase, (g, s) in result.foreign.items()
        if g > MAX_FOREIGN_SHARE or (s or 0) > MAX_FOREIGN_SHARE
    ]
    return lines + skew_warning(skewed, "a CPU")
