"""The tables `archbench perf` prints: figures against their targets, raw figures, conditions."""

from __future__ import annotations

import statistics
from typing import Any

from bench.selfcheck.perf import HOPS, PREDICT, Run, cpu_list, in_process_argv
from stack.budget import Applied

MAX_HOP_LATENCY_MS = 0.5
MAX_HOP_CPU_MS = 0.3
MIN_SERVED_RATIO = 0.85
# Above this share of the SUT CPU going to other work, the figures are flagged as skewed.
MAX_FOREIGN_SHARE = 0.05


def verdict(passed: bool | None) -> str:
    """PASS, FAIL or n/a (no figure), coloured for rich."""
    if passed is None:
        return "[yellow]n/a[/]"
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def _ms(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def targets(result: Run) -> Any:
    """The three figures of the brief against their targets."""
    from rich.table import Table

    mono, micro = result.low["monolith"], result.low["micro"]
    latency_tax = (micro.p50_ms - mono.p50_ms) / HOPS
    cpu_tax = None
    if micro.cpu_ms_per_request is not None and mono.cpu_ms_per_request is not None:
        cpu_tax = (micro.cpu_ms_per_request - mono.cpu_ms_per_request) / HOPS
    served = result.peaks["monolith"].requests_per_s
    ratio = served / result.in_process_rps
    table = Table(title="targets")
    for header in ("figure", "measured", "target", "result", "from"):
        table.add_column(header, justify="right" if header == "measured" else "left")
    table.add_row(
        "p50 latency tax per hop",
        f"{latency_tax:.3f} ms",
        f"≤ {MAX_HOP_LATENCY_MS} ms",
        verdict(latency_tax <= MAX_HOP_LATENCY_MS),
        f"(micro {micro.p50_ms:.3f} − monolith {mono.p50_ms:.3f} ms p50) / {HOPS} hops",
    )
    table.add_row(
        "CPU tax per hop",
        f"{_ms(cpu_tax)} ms",
        f"≤ {MAX_HOP_CPU_MS} ms",
        verdict(None if cpu_tax is None else cpu_tax <= MAX_HOP_CPU_MS),
        f"(micro {_ms(micro.cpu_ms_per_request)} − monolith "
        f"{_ms(mono.cpu_ms_per_request)} ms CPU/request) / {HOPS} hops",
    )
    table.add_row(
        "monolith served / in-process",
        f"{ratio:.3f}",
        f"≥ {MIN_SERVED_RATIO}",
        verdict(ratio >= MIN_SERVED_RATIO),
        f"wrk {served:,.0f} req/s / in-process pipeline {result.in_process_rps:,.0f} req/s",
    )
    return table


def figures(result: Run) -> Any:
    """Every measured figure, per architecture."""
    from rich.table import Table

    table = Table(title="figures (latency and CPU in ms; bad = non-2xx answers + socket errors)")
    headers = ("", "seq p50", "seq p99", "CPU/request", "wrk req/s", "wrk p50", "wrk p99", "bad")
    for header in headers:
        table.add_column(header, justify="left" if not header else "right")
    table.add_row("in-process", "", "", "", f"{result.in_process_rps:,.0f}", "", "", "")
    for arch, low in result.low.items():
        peak = result.peaks[arch]
        table.add_row(
            arch,
            f"{low.p50_ms:.3f}",
            f"{low.p99_ms:.3f}",
            _ms(low.cpu_ms_per_request),
            f"{peak.requests_per_s:,.0f}",
            _ms(peak.p50_ms, 2),
            _ms(peak.p99_ms, 2),
            str(peak.bad_responses),
        )
    return table


def budget_text(applied: Applied | None) -> str:
    """The limits a stack really ran under, in a few words."""
    if applied is None or applied.mechanism != "cgroup-v1":
        return "CPU affinity only, no cgroup: no CPU figures"
    memory_gib = (applied.memory_bytes or 0) / (1 << 30)
    return f"cgroup v1, quota {applied.cpu_quota:g} CPU, {memory_gib:g} GiB"


def conditions(result: Run, payloads: int) -> list[str]:
    """How the figures were taken, with the exact commands."""
    config, micro = result.config, result.low["micro"]
    hops = ", ".join(f"{name} {ms:.3f}" for name, ms in micro.hop_ms.items())
    hop_mean = statistics.fmean(micro.hop_ms.values()) if micro.hop_ms else None
    foreign = ", ".join(f"{phase} {share:.0%}" for phase, share in result.foreign.items())
    lines = [
        f"cross-check, gateway Server-Timing median per hop (ms): {hops}; "
        f"mean {_ms(hop_mean)} ms per hop",
        f"system under test on CPU {cpu_list(result.sut_cpus)} ({budget_text(result.applied)}); "
        f"load generator on CPU {cpu_list(result.generator_cpus)}",
        f"SUT CPU taken by other work during: {foreign}",
        f"in-process: {' '.join(in_process_argv(config, result.sut_cpus))} "
        "(OMP/OPENBLAS/MKL threads 1)",
        f"sequential: {config.requests} POST {PREDICT.path} of one record each per stack after "
        f"{config.warmup} warm-up, both stacks up, taking turns in {config.rounds} rounds; one "
        f"keep-alive http.client connection per stack on CPU {cpu_list(result.generator_cpus)}; "
        "latency by perf_counter_ns around request and read; CPU = the stack's cgroup "
        "cpuacct.usage delta / requests",
    ]
    lines += [f"wrk {arch}: {' '.join(p.command)}" for arch, p in result.peaks.items()]
    lines.append(
        f"payloads: {payloads} single records sampled from the penguins dataset (target "
        "dropped), cycled; the wrk script POSTs them in turn with content-type application/json"
    )
    skewed = [phase for phase, share in result.foreign.items() if share > MAX_FOREIGN_SHARE]
    if skewed:
        lines.append(
            f"[red]warning: other work took over {MAX_FOREIGN_SHARE:.0%} of the SUT CPU during "
            f"{', '.join(skewed)}; those figures are skewed[/]"
        )
    return lines
