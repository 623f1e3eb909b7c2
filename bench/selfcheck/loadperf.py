"""`archbench loadperf`: the load generator's own costs against its targets — CPU per request,
what exact-latency capture costs, and its saturation throughput next to wrk's on the same stack.

Locust and wrk run on the load generator's CPU, the stacks on the system-under-test CPU inside
the default budget. Figures are printed, not asserted: they depend on the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.analyse import runs as analysis
from bench.analyse.runs import Validity
from bench.load import payloads
from bench.load.shapes import Ramp
from bench.measure.contention import Ticks, foreign_share
from bench.run.locust_process import LOCUST_GRACE_S, locust_command, start_locust, stop_group
from bench.selfcheck import wrk
from bench.selfcheck.perf import cpu_list, pinned
from bench.selfcheck.perf_report import MAX_FOREIGN_SHARE, budget_text, verdict
from pipeline.paths import LOG_ROOT
from stack.budget import Applied, generator_cpus, sut_cpus
from stack.runner import Stack, terminate_as_interrupt
from stack.topology import Budget

MAX_GENERATOR_US_PER_REQUEST = 150.0
MAX_CAPTURE_COST = 0.05
MAX_WRK_GAP = 0.15
PREDICT_MIX = {"predict": payloads.DEFAULT_MIX["predict"]}


class LoadPerfError(Exception):
    """A load run produced nothing to measure; the message names its log."""


@dataclass(frozen=True)
class LoadPerfConfig:
    """What `archbench loadperf` runs; the defaults keep the whole run under about two minutes."""

    rate: float = 2500.0  # open-loop req/s of the cost runs: high, yet the generator stays valid
    cost_s: float = 3.0
    cost_warmup_s: float = 1.0
    # Pairs of cost runs, with capture and without; even, as the pairs alternate which goes first
    repeats: int = 4
    max_in_flight: int = 64
    saturation_s: int = 10
    connections: int = 8  # wrk connections = Locust users = probe workers
    skip_s: float = 2.0  # of the closed-loop Locust run, left out of its throughput
    probe_s: float = 4.0
    seed: int = 1
    base_port: int = 8900


@dataclass(frozen=True)
class CostRun:
    """One open-loop run of cheap requests: the generator's CPU over the measured window."""

    capture: bool
    command: list[str]
    cpu_s: float
    wall_s: float
    recorded: int | None  # requests sent in the measured bins (exact record; None without it)
    logged: float  # requests Locust logged inside the measured window (its JSON)
    failures: int  # Locust's failures over the whole run
    validity: Validity | None

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s

    @property
    def us_per_request(self) -> float | None:
        return self.cpu_s / self.recorded * 1e6 if self.recorded else None

    @property
    def us_per_logged(self) -> float:
        return self.cpu_s / self.logged * 1e6


@dataclass(frozen=True)
class Load:
    """One closed-loop load on a stack at saturation (wrk, Locust users or the capacity probe)."""

    command: list[str]
    rps: float | None
    requests: int  # over the whole run, start-up included (what the stack's CPU was spent on)
    failed: int
    generator_share: float | None = None  # the generator's CPU share, where the record has it


# The saturation loads, in the order they run: the Locust users' unmeasured first seconds warm
# the stack up for wrk too.
USERS, WRK, PROBE = "Locust users", "wrk", "capacity probe"


@dataclass
class Run:
    """Everything one `archbench loadperf` measured, with its conditions."""

    config: LoadPerfConfig
    out: Path
    sut_cpus: list[int]
    generator_cpus: list[int]
    applied: dict[str, Applied | None] = field(default_factory=dict)
    costs: list[CostRun] = field(default_factory=list)
    saturation: dict[str, dict[str, Load]] = field(default_factory=dict)
    # Per phase: share of the generator CPU, and of the SUT CPU, busy with other work.
    foreign: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    # Per phase: CPU the stack used (cgroup only).
    sut_used_ns: dict[str, int] = field(default_factory=dict)

    def sut_ms_per_request(self, phase: str, load: Load) -> float | None:
        used = self.sut_used_ns.get(phase)
        return used / load.requests / 1e6 if used is not None and load.requests else None


def locust_argv(url: str, out: Path, options: dict[str, object]) -> list[str]:
    """A headless run of our locustfile writing its record and Locust's JSON into `out`."""
    return locust_command(
        url,
        {
            **options,
            "--record-file": out / "latency.json",
            "--json-file": out / "locust",
            "--exit-code-on-error": 0,
            "--only-summary": True,
            "--loglevel": "WARNING",
        },
    )


def run_locust(argv: list[str], out: Path, cpus: list[int], planned_s: float) -> dict[str, Any]:
    """Run Locust to its end (stopped after a grace period), return our record."""
    out.mkdir(parents=True)
    process = start_locust(argv, cpus, out / "locust.log")
    try:
        process.wait(timeout=planned_s + LOCUST_GRACE_S)
    except subprocess.TimeoutExpired:
        pass  # stop_group makes it write what it has
    finally:
        stop_group(process)
    path = out / "latency.json"
    if not path.exists():
        raise LoadPerfError(f"Locust wrote no record; see {out / 'locust.log'}")
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def locust_stats(out: Path) -> list[dict[str, Any]]:
    """Locust's own per-request-name statistics (its --json-file output)."""
    stats: list[dict[str, Any]] = json.loads((out / "locust.json").read_text())
    return stats


def logged_between(stats: list[dict[str, Any]], start_unix: float, end_unix: float) -> float:
    """Requests Locust logged in [start, end).

    Locust counts per whole second; a second's requests are taken as spread evenly over the part
    of it when the entry was active (the run starts and ends inside seconds), and counted by the
    share of that part inside the window.
    """
    total = 0.0
    for entry in stats:
        first, last = entry["start_time"], entry["last_request_timestamp"]
        for key, n in entry["num_reqs_per_sec"].items():
            active_from, active_to = max(int(key), first), min(int(key) + 1, last)
            inside = min(end_unix, active_to) - max(start_unix, active_from)
            if active_to <= active_from:
                total += n * (start_unix <= active_from < end_unix)
            elif inside > 0:
                total += n * inside / (active_to - active_from)
    return total


def cost_run(
    url: str, out: Path, config: LoadPerfConfig, capture: bool, cpus: list[int]
) -> CostRun:
    """Steady open-loop invalid /validate records (answered 422 at once, which is correct)."""
    options: dict[str, object] = {
        "--scenario": "steady",
        "--rate": config.rate,
        "--duration": config.cost_s,
        "--warmup": config.cost_warmup_s,
        "--max-in-flight": config.max_in_flight,
        "--mix": "validate",
        "--invalid-share": 1,
        "--payload-seed": config.seed,
        "--no-latency-capture": not capture,
    }
    argv = locust_argv(url, out, {k: v for k, v in options.items() if v is not False})
    record = run_locust(argv, out, cpus, config.cost_warmup_s + config.cost_s)
    stats = locust_stats(out)
    start, end = record["measured_unix"]
    recorded = None
    if capture:
        recorded = analysis.counts(record, analysis.measured_bins(record))["sent"]
    return CostRun(
        capture,
        argv,
        record["generator_cpu_s"],
        record["measured_wall_s"],
        recorded,
        logged_between(stats, start, end),
        sum(e["num_failures"] for e in stats),
        None,  # judged once the phase's contention is known
    )


def users_run(url: str, out: Path, config: LoadPerfConfig, cpus: list[int]) -> Load:
    """Closed-loop Locust users, all started at once and held; req/s after the first seconds."""
    options: dict[str, object] = {
        "--scenario": "ramp",
        "--ramp-users": config.connections,
        "--ramp-spawn-rate": 100,
        "--duration": config.saturation_s,
        "--mix": "predict",
        "--invalid-share": 0,
        "--payload-seed": config.seed,
    }
    argv = locust_argv(url, out, options)
    ramp = Ramp(config.connections, 100, config.saturation_s)
    record = run_locust(argv, out, cpus, ramp.duration_s)
    # The last bin is left out too: users stop during it.
    bins = analysis.measured_bins(record, config.skip_s, ramp.duration_s - record["bin_s"])
    counts = analysis.counts(record, bins)
    cpu_s, wall_s = record.get("generator_cpu_s"), record.get("measured_wall_s")
    return Load(
        argv,
        (counts["ok"] + counts["failed"]) / (len(bins) * record["bin_s"]),
        sum(e["num_requests"] for e in locust_stats(out)),
        counts["failed"],
        cpu_s / wall_s if cpu_s is not None and wall_s else None,
    )


def probe_run(url: str, out: Path, config: LoadPerfConfig, cpus: list[int]) -> Load:
    """The capacity scenario's closed-loop probe (as many workers as wrk has connections), with
    a single short step after it."""
    options: dict[str, object] = {
        "--scenario": "capacity",
        "--probe-duration": config.probe_s,
        "--max-in-flight": config.connections,
        "--warmup": 0,
        "--step-duration": 1,
        "--capacity-fractions": "1.0",
        "--mix": "predict",
        "--invalid-share": 0,
        "--payload-seed": config.seed,
    }
    argv = locust_argv(url, out, options)
    record = run_locust(argv, out, cpus, config.probe_s + 1)
    stats = locust_stats(out)
    requests = sum(e["num_requests"] for e in stats)
    return Load(argv, record.get("estimate_rps"), requests, sum(e["num_failures"] for e in stats))


def _own_cpu_ns() -> int:
    """CPU used by this process and its reaped children (Locust, wrk) so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return int(total * 1e9)


@contextmanager
def watched(result: Run, phase: str, stack: Stack) -> Iterator[None]:
    """Run the block pinned to the generator CPU; record the share of each CPU that went to
    other work than the load (this process and its children) and the stack."""
    gen_before, sut_before = Ticks.read(result.generator_cpus), Ticks.read(result.sut_cpus)
    own_before, used_before = _own_cpu_ns(), stack.confinement.cpu_usage_ns()
    with pinned(result.generator_cpus):
        yield
    used_after = stack.confinement.cpu_usage_ns()
    generator = foreign_share(
        gen_before, Ticks.read(result.generator_cpus), _own_cpu_ns() - own_before
    )
    sut = None
    if used_before is not None and used_after is not None:
        result.sut_used_ns[phase] = used_after - used_before
        sut = foreign_share(sut_before, Ticks.read(result.sut_cpus), used_after - used_before)
    result.foreign[phase] = (generator, sut)


def run(config: LoadPerfConfig, progress: Callable[[str], None] | None = None) -> Run:
    """The cost runs on the monolith, then each stack at saturation under wrk and archbench."""
    say = progress or (lambda _: None)
    budget = Budget()
    out = LOG_ROOT / "loadperf" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = Run(config, out, sut_cpus(budget), generator_cpus(budget))
    script = out / "predict.lua"
    out.mkdir(parents=True)
    bodies = [p.body for p in payloads.pool(config.seed, invalid_share=0.0, mix=PREDICT_MIX)]
    script.write_text(wrk.lua_script(bodies))
    for i, arch in enumerate(("monolith", "micro")):
        say(f"starting {arch}")
        # The stack takes its CPU from this process's affinity: create it unpinned.
        with Stack(arch, config.base_port + 10 * i, budget, out / arch / "logs") as stack:
            result.applied[arch] = stack.applied
            if arch == "monolith":
                _costs(result, stack, say)
            result.saturation[arch] = _saturation(result, stack, arch, script, say)
            stack.check_alive()
    return result


def _costs(result: Run, stack: Stack, say: Callable[[str], None]) -> None:
    config = result.config
    for rep in range(config.repeats):
        # Alternate which goes first so that a drift of the machine hits both alike.
        for capture in (True, False) if rep % 2 == 0 else (False, True):
            label = f"cost {'with' if capture else 'without'} capture {rep + 1}"
            say(f"monolith: {label}, {config.rate:g} req/s open loop")
            out = result.out / "monolith" / f"cost-{'capture' if capture else 'none'}-{rep + 1}"
            with watched(result, label, stack):
                cost = cost_run(stack.url, out, config, capture, result.generator_cpus)
            if capture:
                generator, sut = result.foreign[label]
                record = json.loads((out / "latency.json").read_text())
                foreign = {"generator_foreign_share": generator, "sut_foreign_share": sut}
                cost = replace(cost, validity=analysis.validity(record, foreign))
            result.costs.append(cost)


def _saturation(
    result: Run, stack: Stack, arch: str, script: Path, say: Callable[[str], None]
) -> dict[str, Load]:
    config, cpus, base = result.config, result.generator_cpus, result.out / arch
    loads: dict[str, Load] = {}
    say(f"{arch}: {config.connections} Locust users for {config.saturation_s} s")
    with watched(result, f"{arch} {USERS}", stack):
        loads[USERS] = users_run(stack.url, base / "users", config, cpus)
    say(f"{arch}: wrk for {config.saturation_s} s")
    command = wrk.command(
        stack.url + "/predict", script, config.saturation_s, 1, config.connections, cpus
    )
    with watched(result, f"{arch} {WRK}", stack):
        peak = wrk.run(command, config.saturation_s)
    loads[WRK] = Load(command, peak.requests_per_s, peak.requests, peak.bad_responses)
    say(f"{arch}: capacity probe for {config.probe_s:g} s")
    with watched(result, f"{arch} {PROBE}", stack):
        loads[PROBE] = probe_run(stack.url, base / "probe", config, cpus)
    return loads


def _spread(values: Sequence[float | None], scale: float = 1.0, digits: int = 1) -> str:
    """Median (min–max), e.g. '12.3 (11.9–13.0)'."""
    s = analysis.spread(values)
    if s["median"] is None:
        return "n/a"
    median, low, high = (float(s[k] or 0.0) * scale for k in ("median", "min", "max"))
    return f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def capture_costs(costs: Sequence[CostRun]) -> list[float]:
    """Per repetition: CPU per logged request with capture over without, minus one."""
    with_ = [c for c in costs if c.capture]
    without = [c for c in costs if not c.capture]
    return [w.us_per_logged / n.us_per_logged - 1 for w, n in zip(with_, without, strict=True)]


def targets(result: Run) -> Any:
    """Every figure against its target."""
    from rich.table import Table

    table = Table(title="load generator targets (median (min–max) over runs)")
    for header in ("figure", "measured", "target", "result", "from"):
        table.add_column(header, justify="right" if header == "measured" else "left")
    captured = [c for c in result.costs if c.capture]
    us = [c.us_per_request for c in captured]
    median_us = analysis.spread(us)["median"]
    table.add_row(
        "generator CPU per request",
        f"{_spread(us)} µs",
        f"≤ {MAX_GENERATOR_US_PER_REQUEST:g} µs",
        verdict(None if median_us is None else median_us <= MAX_GENERATOR_US_PER_REQUEST),
        f"record's generator_cpu_s / sent in measured bins, {len(captured)} runs at "
        f"{result.config.rate:g} req/s",
    )
    shares = [c.cpu_share for c in captured]
    table.add_row(
        "generator CPU share of its core",
        _spread(shares, 100, 0) + " %",
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
    costs = capture_costs(result.costs)
    median_cost = analysis.spread(costs)["median"]
    table.add_row(
        "exact-latency capture cost",
        _spread(costs, 100) + " %",
        f"≤ {MAX_CAPTURE_COST:.0%}",
        verdict(None if median_cost is None else median_cost <= MAX_CAPTURE_COST),
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
                "n/a" if ratio is None else f"{ratio:.3f}",
                f"1 ± {MAX_WRK_GAP:.0%}",
                verdict(None if ratio is None else abs(ratio - 1) <= MAX_WRK_GAP),
                f"{0 if rps is None else rps:,.0f} / {served:,.0f} req/s; "
                f"{result.config.connections} connections, closed loop, same stack",
            )
    return table


def conditions(result: Run) -> list[str]:
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
            share = load.generator_share
            parts.append(
                f"{name} {load.rps or 0:,.0f} req/s ({load.failed} failed"
                + ("" if share is None else f", generator CPU {share:.0%}")
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
        f"{phase} {g:.0%}/{'n/a' if s is None else f'{s:.0%}'}"
        for phase, (g, s) in result.foreign.items()
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
    if skewed:
        lines.append(
            f"[red]warning: other work took over {MAX_FOREIGN_SHARE:.0%} of a CPU during "
            f"{', '.join(skewed)}; those figures are skewed[/]"
        )
    return lines


def main(config: LoadPerfConfig) -> None:
    """Run everything and print the table and the conditions."""
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 160)
    progress = Console(stderr=True)
    started = time.monotonic()
    # SIGTERM unwinds like Ctrl-C, so that every Locust, wrk and stack process is stopped.
    with terminate_as_interrupt():
        result = run(config, lambda message: progress.print(f"[dim]… {message}[/]"))
    console.print(targets(result))
    for line in conditions(result):
        console.print(line, highlight=False)
    console.print(f"took {time.monotonic() - started:.0f} s", highlight=False)
