"""The tables `archbench perf` prints: figures against their targets, raw figures, conditions."""

from __future__ import annotations

import statistics

from rich.table import Table

from bench.analyse.verdict import price_line
from bench.report.console import NOT_AVAILABLE, number, table
from bench.selfcheck.conditions import MAX_FOREIGN_SHARE, budget_text, cpu_list, skew_warning
from bench.selfcheck.perf.result import HOPS, PREDICT, PerfResult, in_process_argv, secured_price
from bench.selfcheck.targets import targets_table, verdict

MAX_HOP_LATENCY_MS = 0.5
MAX_HOP_CPU_MS = 0.3
MIN_SERVED_RATIO = 0.85


def targets(result: PerfResult) -> Table:
    """The three figures of the brief against their targets."""
    mono, micro = result.low["monolith"], result.low["micro"]
    latency_tax = (micro.p50_ms - mono.p50_ms) / HOPS
    cpu_tax = None
    if micro.cpu_ms_per_request is not None and mono.cpu_ms_per_request is not None:
        cpu_tax = (micro.cpu_ms_per_request - mono.cpu_ms_per_request) / HOPS
    served = result.peaks["monolith"].requests_per_s
    ratio = served / result.in_process_rps
    out = targets_table("targets")
    out.add_row(
        "p50 latency tax per hop",
        f"{latency_tax:.3f} ms",
        f"≤ {MAX_HOP_LATENCY_MS} ms",
        verdict(latency_tax <= MAX_HOP_LATENCY_MS),
        f"(micro {micro.p50_ms:.3f} − monolith {mono.p50_ms:.3f} ms p50) / {HOPS} hops",
    )
    out.add_row(
        "CPU tax per hop",
        f"{number(cpu_tax, 3, missing=NOT_AVAILABLE)} ms",
        f"≤ {MAX_HOP_CPU_MS} ms",
        verdict(None if cpu_tax is None else cpu_tax <= MAX_HOP_CPU_MS),
        f"(micro {number(micro.cpu_ms_per_request, 3, missing=NOT_AVAILABLE)} − monolith "
        f"{number(mono.cpu_ms_per_request, 3, missing=NOT_AVAILABLE)} ms CPU/request) / "
        f"{HOPS} hops",
    )
    out.add_row(
        "monolith served / in-process",
        f"{ratio:.3f}",
        f"≥ {MIN_SERVED_RATIO}",
        verdict(ratio >= MIN_SERVED_RATIO),
        f"wrk {served:,.0f} req/s / in-process pipeline {result.in_process_rps:,.0f} req/s",
    )
    return out


FIGURE_COLUMNS = ("", "seq p50", "seq p99", "CPU/request", "wrk req/s", "wrk p50", "wrk p99", "bad")


def figures(result: PerfResult) -> Table:
    """Every measured figure, per architecture."""
    out = table(
        "figures (latency and CPU in ms; bad = non-2xx answers + socket errors)",
        FIGURE_COLUMNS,
        left=("",),
    )
    out.add_row("in-process", "", "", "", f"{result.in_process_rps:,.0f}", "", "", "")
    for arch, low in result.low.items():
        peak = result.peaks[arch]
        out.add_row(
            arch,
            f"{low.p50_ms:.3f}",
            f"{low.p99_ms:.3f}",
            number(low.cpu_ms_per_request, 3, missing=NOT_AVAILABLE),
            f"{peak.requests_per_s:,.0f}",
            number(peak.p50_ms, 2, missing=NOT_AVAILABLE),
            number(peak.p99_ms, 2, missing=NOT_AVAILABLE),
            str(peak.bad_responses),
        )
    return out


def conditions(result: PerfResult, payloads: int) -> list[str]:
    """How the figures were taken, with the exact commands."""
    config, micro = result.config, result.low["micro"]
    hops = ", ".join(f"{name} {ms:.3f}" for name, ms in micro.hop_ms.items())
    hop_mean = statistics.fmean(micro.hop_ms.values()) if micro.hop_ms else None
    foreign = ", ".join(f"{phase} {share:.0%}" for phase, share in result.foreign.items())
    lines = [
        f"cross-check, gateway Server-Timing median per hop (ms): {hops}; "
        f"mean {number(hop_mean, 3, missing=NOT_AVAILABLE)} ms per hop",
        f"system under test on CPU {cpu_list(result.sut_cpus)} ({budget_text(result.applied)}); "
        f"load generator on CPU {cpu_list(result.generator_cpus)}",
        f"SUT CPU taken by other work during: {foreign}",
        f"in-process: {' '.join(in_process_argv(config, result.sut_cpus))} "
        "(OMP/OPENBLAS/MKL threads 1)",
        f"sequential: {config.requests} POST {PREDICT.path} of one record each per stack after "
        f"{config.warmup} warm-up, every stack up (micro+mTLS: micro with secured hops), taking "
        f"turns in {config.rounds} rounds; one "
        f"keep-alive http.client connection per stack on CPU {cpu_list(result.generator_cpus)}; "
        "latency by perf_counter_ns around request and read; CPU = the stack's cgroup "
        "cpuacct.usage delta / requests",
    ]
    lines += [f"wrk {arch}: {' '.join(p.command)}" for arch, p in result.peaks.items()]
    lines.append(
        f"payloads: {payloads} single records sampled from the penguins dataset (target "
        "dropped), cycled; the wrk script POSTs them in turn with content-type application/json"
    )
    price = secured_price(result)
    if price is not None:
        lines.insert(0, price_line(HOPS, *price))
    skewed = [phase for phase, share in result.foreign.items() if share > MAX_FOREIGN_SHARE]
    return lines + skew_warning(skewed, "the SUT CPU")
