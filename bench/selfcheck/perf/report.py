"""The tables `archbench perf` prints: its ratios with their intervals, figures against their
targets, raw figures per round, conditions."""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Sequence
from functools import partial

from rich.table import Table

from bench.analyse.verdict import price_line
from bench.report.console import NOT_AVAILABLE, table
from bench.selfcheck.conditions import MAX_FOREIGN_SHARE, budget_text, cpu_list, skew_warning
from bench.selfcheck.perf.result import (
    BASELINE,
    FLOOR,
    HOPS,
    PREDICT,
    PerfResult,
    Sample,
    in_process_argv,
    secured_price,
    tracing_rounds,
)
from bench.selfcheck.rounds import Figure, cell, figure, legend, paired, per_round
from bench.selfcheck.targets import interval_verdict, targets_table

MAX_HOP_LATENCY_MS = 0.5
MAX_HOP_CPU_MS = 0.3
MIN_SERVED_RATIO = 0.85


def _p50(s: Sample) -> float | None:
    return s.p50_ms


def _cpu(s: Sample) -> float | None:
    return s.cpu_ms_per_request


def hop_tax(
    result: PerfResult, stack: str, of: Callable[[Sample], float | None]
) -> list[float | None]:
    """Per round: (stack − baseline) / hops, of a sequential sample's figure (p50 or CPU)."""
    taxed, base = result.low[stack], result.low[BASELINE]
    out: list[float | None] = []
    for s, b in zip(taxed, base, strict=True):
        ours, theirs = of(s), of(b)
        out.append(None if ours is None or theirs is None else (ours - theirs) / HOPS)
    return out


def ratios(result: PerfResult) -> list[Figure]:
    """Every ratio of the run, each from per-round pairs: the hop tax over the baseline's latency
    and CPU and over the floor's, each stack's wrk peak over the baseline's, and the baseline's
    peak over the in-process pipeline."""
    out = []
    floor = result.low.get(FLOOR, [])
    for stack in result.compared:
        if stack == BASELINE:
            continue
        for what, of in (("p50", _p50), ("CPU", _cpu)):
            tax = hop_tax(result, stack, of)
            base = [of(s) for s in result.low[BASELINE]]
            out.append(paired(f"{stack} hop tax / {BASELINE} {what}", tax, base))
            out.append(paired(f"{stack} hop tax / floor {what}", tax, [of(s) for s in floor]))
        out.append(
            paired(
                f"{stack} / {BASELINE} wrk peak",
                [p.requests_per_s for p in result.peaks[stack]],
                [p.requests_per_s for p in result.peaks[BASELINE]],
            )
        )
    out.append(
        paired(
            f"{BASELINE} served / in-process",
            [p.requests_per_s for p in result.peaks[BASELINE]],
            list(result.in_process_rps),
        )
    )
    return out


def ratios_table(figures: Sequence[Figure]) -> Table:
    """Each ratio's median with its interval, and its per-round values."""
    out = table(
        "ratios (median (95% interval); per round)",
        ("ratio", "median", "rounds"),
        ("ratio", "rounds"),
    )
    for fig in figures:
        out.add_row(fig.name, cell(fig), per_round(fig, 2))
    return out


def targets(result: PerfResult) -> Table:
    """The brief's figures against their targets, judged on their intervals."""
    out = targets_table("targets (median (95% interval) over rounds)")
    for stack in result.compared:
        if stack == BASELINE:
            continue
        for what, of, limit in (
            ("p50 latency", _p50, MAX_HOP_LATENCY_MS),
            ("CPU", _cpu, MAX_HOP_CPU_MS),
        ):
            tax = figure(f"{stack} {what} tax per hop", hop_tax(result, stack, of))
            out.add_row(
                tax.name,
                f"{cell(tax)} ms",
                f"≤ {limit} ms",
                interval_verdict(tax.interval, partial(operator.ge, limit)),
                f"({stack} − {BASELINE}) / {HOPS} hops, sequential, per round",
            )
    served = next(f for f in ratios(result) if f.name.endswith("served / in-process"))
    out.add_row(
        served.name,
        cell(served),
        f"≥ {MIN_SERVED_RATIO}",
        interval_verdict(served.interval, lambda v: v >= MIN_SERVED_RATIO),
        "wrk req/s / in-process pipeline req/s, same round",
    )
    return out


def tracing(result: PerfResult) -> Table | None:
    """What W3C tracing (serving/trace.py) costs, in µs: per request in each architecture, and
    per hop; each the median of per-round differences, with its interval and rounds."""
    rounds = tracing_rounds(result)
    if not rounds:
        return None
    out = table(
        "price of tracing in µs (traced − untraced, same round): median (95% interval); per round",
        ("", "median", "rounds"),
        ("", "rounds"),
    )
    for name, values in rounds.items():
        fig = figure(name, values)
        out.add_row(name, cell(fig, 1), per_round(fig, 1))
    return out


FIGURE_COLUMNS = ("", "seq p50", "seq p99", "CPU/request", "wrk req/s", "wrk p50", "wrk p99", "bad")


def figures(result: PerfResult) -> Table:
    """Every measured figure per side, the median of its rounds with its interval."""
    out = table(
        "figures: median (95% interval) over rounds; latency and CPU in ms; "
        "bad = non-2xx answers + socket errors, summed",
        FIGURE_COLUMNS,
        left=("",),
    )
    out.add_row(
        "in-process", "", "", "", cell(figure("", list(result.in_process_rps)), 0), "", "", ""
    )
    for side, samples in result.low.items():
        peaks = result.peaks.get(side, [])
        out.add_row(
            side,
            cell(figure("", [s.p50_ms for s in samples])),
            cell(figure("", [s.p99_ms for s in samples])),
            cell(figure("", [s.cpu_ms_per_request for s in samples])),
            cell(figure("", [p.requests_per_s for p in peaks]), 0) if peaks else "",
            cell(figure("", [p.p50_ms for p in peaks]), 2) if peaks else "",
            cell(figure("", [p.p99_ms for p in peaks]), 2) if peaks else "",
            str(sum(p.bad_responses for p in peaks)) if peaks else "",
        )
    return out


def conditions(result: PerfResult, payloads: int) -> list[str]:
    """How the figures were taken, with the exact commands."""
    config = result.config
    lines = legend(ratios(result), f"{config.rounds} interleaved rounds")
    lines.append(
        f"hop tax = (stack − {BASELINE}) / {HOPS} hops, per round, of the sequential p50 or CPU "
        "per request; floor = one bare round trip (below), the same round"
    )
    for stack, hops in result.hop_ms.items():
        if hops:
            text = ", ".join(f"{n} {statistics.median(v):.3f}" for n, v in hops.items())
            mean = statistics.fmean(statistics.median(v) for v in hops.values())
            lines.append(
                f"cross-check, {stack} gateway Server-Timing median per hop (ms): {text}; "
                f"mean {mean:.3f} ms per hop"
            )
    worst = {step: max(shares) for step, shares in result.foreign.items()}
    lines += [
        f"system under test on CPU {cpu_list(result.sut_cpus)} ({budget_text(result.applied)}); "
        f"load generator on CPU {cpu_list(result.generator_cpus)}",
        "SUT CPU taken by other work, worst round: "
        + (", ".join(f"{step} {s:.0%}" for step, s in worst.items()) or NOT_AVAILABLE),
        f"rounds: {config.rounds}, each step once per round, in order and reversed in turn "
        f"(ABBA): {', '.join(result.steps)}",
        f"in-process: {' '.join(in_process_argv(config, result.sut_cpus))} "
        "(OMP/OPENBLAS/MKL threads 1)",
        f"sequential: {config.requests} POST {PREDICT.path} of one record each per stack and "
        f"round after {config.warmup} warm-up; one keep-alive http.client connection per stack "
        f"on CPU {cpu_list(result.generator_cpus)}; latency by perf_counter_ns around request "
        "and read; CPU = the stack's cgroup cpuacct.usage delta / requests",
        f"floor: {config.requests} sequential calls per round (after a fresh client's warm-up) "
        "through microservices.hops.StageClient (aiohttp, keep-alive, on uvloop) to a minimal "
        "app under serving.asgi.serve (python -m bench.selfcheck.perf.floor) returning a fixed "
        f"body, both on CPU {cpu_list(result.sut_cpus)}; CPU = the server's cgroup + the "
        "client thread's CPU time, / calls",
        f"wrk: {config.wrk_seconds} s per stack and round after {config.wrk_warmup_seconds} s "
        "unmeasured each",
    ]
    lines += [f"wrk {stack}: {' '.join(p[0].command)}" for stack, p in result.peaks.items() if p]
    lines.append(
        f"payloads: {payloads} single records sampled from the bundle's records, cycled; the "
        "wrk script POSTs them in turn with content-type application/json"
    )
    if tracing_rounds(result):
        lines.append(
            "tracing: per request = the stack − the same stack with ARCHBENCH_TRACE=0, sequential, "
            f"per round; per hop = (micro's − monolith's) / {HOPS} hops: the traceparent "
            "forwarded, read and echoed, and each stage's access line (the entry's own accept "
            "and line, which both architectures pay, left out)"
        )
    price = secured_price(result)
    if price is not None:
        lines.insert(0, price_line(HOPS, *price) + " (median of per-round differences)")
    skewed = [step for step, share in worst.items() if share > MAX_FOREIGN_SHARE]
    return lines + skew_warning(skewed, "the SUT CPU")
