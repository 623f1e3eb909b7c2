"""Runs `archbench loadperf`: the cost runs on the monolith in pairs, then each stack at saturation
under Locust users, wrk and the capacity probe in interleaved rounds, every run watched for other
work; and its entry, which prints the report."""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from bench.analyse import runs as analysis
from bench.load import payloads
from bench.measure.contention import Ticks, foreign_share
from bench.report.console import stdout
from bench.selfcheck import wrk
from bench.selfcheck.conditions import pinned
from bench.selfcheck.loadperf import report
from bench.selfcheck.loadperf.generators import generator_runs
from bench.selfcheck.loadperf.locust_runs import cost_run, probe_run, users_run
from bench.selfcheck.loadperf.result import (
    PROBE,
    USERS,
    WRK,
    Load,
    LoadPerfConfig,
    LoadPerfResult,
)
from bench.selfcheck.perf.floor import FloorServer
from bench.selfcheck.rounds import run_rounds
from pipeline.paths import DEFAULT_MODEL_DIR, LOG_ROOT
from stack.budget import Confinement, generator_cpus, sut_cpus
from stack.runner import Stack, terminate_as_interrupt
from stack.topology import Budget

PREDICT_MIX = {"predict": payloads.DEFAULT_MIX["predict"]}
# The floor server's port, past the two stacks' ports (base_port and base_port + 10).
FLOOR_PORT_OFFSET = 20


def _own_cpu_ns() -> int:
    """CPU used by this process and its reaped children (Locust, wrk) so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return int(total * 1e9)


@contextmanager
def watched(result: LoadPerfResult, phase: str, target: Confinement) -> Iterator[list[int]]:
    """Run the block pinned to the generator CPU; record the share of each CPU that went to
    other work than the load (this process and its children) and the target (a stack, or the
    floor server). The list it gives holds, after the block, the CPU the target used in it
    (cgroup only)."""
    gen_before, sut_before = Ticks.read(result.generator_cpus), Ticks.read(result.sut_cpus)
    own_before, used_before = _own_cpu_ns(), target.cpu_usage_ns()
    used: list[int] = []
    with pinned(result.generator_cpus):
        yield used
    used_after = target.cpu_usage_ns()
    generator = foreign_share(
        gen_before, Ticks.read(result.generator_cpus), _own_cpu_ns() - own_before
    )
    sut = None
    if used_before is not None and used_after is not None:
        used.append(used_after - used_before)
        sut = foreign_share(sut_before, Ticks.read(result.sut_cpus), used_after - used_before)
    result.foreign.setdefault(phase, []).append((generator, sut))


def run(config: LoadPerfConfig, progress: Callable[[str], None] | None = None) -> LoadPerfResult:
    """The cost runs on the monolith, then each stack at saturation under Locust users, wrk and
    the capacity probe in interleaved rounds."""
    say = progress or (lambda _: None)
    budget = Budget()
    out = LOG_ROOT / "loadperf" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = LoadPerfResult(config, out, sut_cpus(budget), generator_cpus(budget))
    script = out / "predict.lua"
    out.mkdir(parents=True)
    bodies = [
        p.body
        for p in payloads.pool(
            payloads.source(DEFAULT_MODEL_DIR), config.seed, invalid_share=0.0, mix=PREDICT_MIX
        )
    ]
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
    if config.workers:
        # The generator's capacity, at a target that cannot be what runs out first.
        say("starting the floor server on the system-under-test CPU")
        floor = FloorServer(config.base_port + FLOOR_PORT_OFFSET, budget, out / "floor" / "log")
        with floor, watched(result, "workers", floor.confinement):
            result.generators = generator_runs(
                floor, out / "floor", config, result.generator_cpus, say
            )
    return result


def _costs(result: LoadPerfResult, stack: Stack, say: Callable[[str], None]) -> None:
    config = result.config
    for rep in range(config.repeats):
        # Alternate which goes first (ABBA) so that a drift of the machine hits both alike.
        for capture in (True, False) if rep % 2 == 0 else (False, True):
            label = f"cost {'with' if capture else 'without'} capture"
            say(f"monolith: {label} {rep + 1}, {config.rate:g} req/s open loop")
            out = result.out / "monolith" / f"cost-{'capture' if capture else 'none'}-{rep + 1}"
            with watched(result, label, stack.confinement):
                cost = cost_run(stack.url, out, config, capture, result.generator_cpus)
            if capture:
                generator, sut = result.foreign[label][-1]
                record = json.loads((out / "latency.json").read_text())
                foreign = {"generator_foreign_share": generator, "sut_foreign_share": sut}
                cost = replace(cost, validity=analysis.validity(record, foreign))
            result.costs.append(cost)


def _saturation(
    result: LoadPerfResult, stack: Stack, arch: str, script: Path, say: Callable[[str], None]
) -> dict[str, list[Load]]:
    """Locust users, wrk and the capacity probe on one stack, in short alternating windows."""
    config, cpus, base = result.config, result.generator_cpus, result.out / arch
    loads: dict[str, list[Load]] = {USERS: [], WRK: [], PROBE: []}
    wrk_command = wrk.command(
        stack.url + "/predict", script, config.wrk_s, 1, config.connections, cpus
    )

    def users(r: int) -> Load:
        return users_run(stack.url, base / f"users-{r + 1}", config, cpus)

    def probe(r: int) -> Load:
        return probe_run(stack.url, base / f"probe-{r + 1}", config, cpus)

    def closed_loop(_: int) -> Load:
        peak = wrk.run(wrk_command, config.wrk_s)
        return Load(wrk_command, peak.requests_per_s, peak.requests, peak.bad_responses)

    def step(name: str, measure: Callable[[int], Load]) -> Callable[[int], None]:
        def measured(r: int) -> None:
            with watched(result, f"{arch} {name}", stack.confinement) as used:
                load = measure(r)
            if used and load.requests:
                load = replace(load, sut_ms_per_request=used[0] / load.requests / 1e6)
            loads[name].append(load)

        return measured

    # Locust users go first: their unmeasured first seconds warm the stack up for all three.
    steps = {USERS: step(USERS, users), WRK: step(WRK, closed_loop), PROBE: step(PROBE, probe)}
    say(
        f"{arch}: {config.rounds} rounds of Locust users {config.saturation_s} s, wrk "
        f"{config.wrk_s} s and the capacity probe {config.probe_s:g} s"
    )
    run_rounds(steps, config.rounds, lambda message: say(f"{arch}: {message}"))
    return loads


def main(config: LoadPerfConfig) -> None:
    """Run everything and print the table and the conditions."""
    console = stdout()
    progress = Console(stderr=True)
    started = time.monotonic()
    # SIGTERM unwinds like Ctrl-C, so that every Locust, wrk and stack process is stopped.
    with terminate_as_interrupt():
        result = run(config, lambda message: progress.print(f"[dim]… {message}[/]"))
    console.print(report.targets(result))
    for line in report.conditions(result):
        console.print(line, highlight=False)
    console.print(f"took {time.monotonic() - started:.0f} s", highlight=False)
