"""Runs `archbench perf` in interleaved rounds: each round measures the in-process pipeline, the
floor of a hop, every stack at low load and every stack under wrk, in alternating order; and its
entry, which prints the report."""

from __future__ import annotations

import http.client
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console

from bench.measure import calibration
from bench.measure.contention import Ticks, foreign_share
from bench.report.console import stdout
from bench.selfcheck import wrk
from bench.selfcheck.conditions import pinned
from bench.selfcheck.microbench import POOL_SIZE, bodies
from bench.selfcheck.perf import report
from bench.selfcheck.perf.floor import FloorServer, round_trips
from bench.selfcheck.perf.result import (
    BASELINE,
    FLOOR,
    IN_PROCESS,
    PREDICT,
    STACKS,
    PerfConfig,
    PerfResult,
    Sample,
    in_process_argv,
)
from bench.selfcheck.rounds import run_rounds
from pipeline import bundle as bundles
from pipeline.paths import LOG_ROOT
from serving.timing import HOP_SUFFIX, parse
from stack.budget import generator_cpus, sut_cpus
from stack.runner import Stack, terminate_as_interrupt
from stack.topology import PORT_BLOCK, Budget

HEADERS = {"content-type": "application/json"}
# Calls through the floor's fresh client before each round's measured ones.
FLOOR_WARMUP = 50
CpuNs = Callable[[], int | None]


def in_process(argv: list[str], timeout_s: float) -> float:
    """Run the microbench: the pipeline's requests/s."""
    return 1e6 / calibration.pipeline_us(argv, timeout_s)


def _children_cpu_ns() -> int:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def _post(connection: http.client.HTTPConnection, body: bytes) -> str | None:
    connection.request("POST", PREDICT.path, body, HEADERS)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise RuntimeError(f"POST {PREDICT.path} answered {response.status}: {answer[:300]!r}")
    return response.getheader("server-timing")


def sequential(
    connection: http.client.HTTPConnection, stack: Stack, payloads: Sequence[bytes], requests: int
) -> tuple[Sample, list[str | None]]:
    """Sequential requests on one keep-alive connection: the sample and each Server-Timing."""
    clock = time.perf_counter_ns
    latencies_ns, headers = [], []
    cpu_before = stack.confinement.cpu_usage_ns()
    for i in range(requests):
        started = clock()
        headers.append(_post(connection, payloads[i % len(payloads)]))
        latencies_ns.append(clock() - started)
    cpu_after = stack.confinement.cpu_usage_ns()
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None:
        cpu_ms = (cpu_after - cpu_before) / requests / 1e6
    latencies_ns.sort()
    p99_ns = latencies_ns[min(requests - 1, int(requests * 0.99))]
    sample = Sample(requests, statistics.median(latencies_ns) / 1e6, p99_ns / 1e6, cpu_ms)
    return sample, headers


def hop_values(headers: Sequence[str | None], into: dict[str, list[float]]) -> None:
    """Add every `<stage>-hop` Server-Timing entry of the headers to `into`."""
    for header in headers:
        for name, ms in parse(header).items():
            if name.endswith(HOP_SUFFIX):
                into.setdefault(name, []).append(ms)


def _total(parts: Sequence[CpuNs]) -> int | None:
    used = [part() for part in parts]
    return None if None in used else sum(u for u in used if u is not None)


@contextmanager
def watched(result: PerfResult, step: str, measured: Sequence[CpuNs]) -> Iterator[None]:
    """Record the share of the SUT CPU that went to other work than `measured` during the block
    (nothing when a part of it cannot be read: no cgroup)."""
    before, used_before = Ticks.read(result.sut_cpus), _total(measured)
    yield
    used_after = _total(measured)
    if used_before is not None and used_after is not None:
        share = foreign_share(before, Ticks.read(result.sut_cpus), used_after - used_before)
        result.foreign.setdefault(step, []).append(share)


def run(config: PerfConfig, progress: Callable[[str], None] | None = None) -> PerfResult:
    """Start every stack and the floor server, warm them up, then measure in rounds."""
    say = progress or (lambda _: None)
    budget = Budget()
    result = PerfResult(config, sut_cpus(budget), generator_cpus(budget))
    payloads = bodies(bundles.records(config.model_dir), 1)
    say(f"starting {', '.join(STACKS)} and the floor server")
    with ExitStack() as running:
        # Every stack runs side by side (an idle stack takes no CPU) on ports of its own.
        stacks = {
            name: running.enter_context(factory(config.base_port + PORT_BLOCK * i, budget))
            for i, (name, factory) in enumerate(STACKS.items())
        }
        floor_port = config.base_port + PORT_BLOCK * len(STACKS)
        floor = running.enter_context(
            FloorServer(floor_port, budget, LOG_ROOT / "perf" / "floor.log")
        )
        result.applied = stacks[BASELINE].applied
        folder = running.enter_context(tempfile.TemporaryDirectory(prefix="archbench-perf-"))
        script = Path(folder) / "predict.lua"
        script.write_text(wrk.lua_script(payloads))
        connections = {
            name: http.client.HTTPConnection("127.0.0.1", stack.entry.port, timeout=10)
            for name, stack in stacks.items()
        }
        for connection in connections.values():
            running.callback(connection.close)
        steps = _steps(result, stacks, connections, floor, script, payloads)
        result.steps = list(steps)
        _warm_up(result, stacks, connections, script, payloads, say)
        run_rounds(steps, config.rounds, say)
        for stack in stacks.values():
            stack.check_alive()
    return result


def _wrk_command(result: PerfResult, stack: Stack, script: Path, seconds: int) -> list[str]:
    config = result.config
    return wrk.command(
        stack.url + PREDICT.path,
        script,
        seconds,
        config.wrk_threads,
        config.wrk_connections,
        result.generator_cpus,
    )


def _warm_up(
    result: PerfResult,
    stacks: Mapping[str, Stack],
    connections: Mapping[str, http.client.HTTPConnection],
    script: Path,
    payloads: Sequence[bytes],
    say: Callable[[str], None],
) -> None:
    """Unmeasured: sequential requests, then a short wrk window, on every stack."""
    config = result.config
    say(f"warm-up: {config.warmup} requests and {config.wrk_warmup_seconds} s of wrk per stack")
    with pinned(result.generator_cpus):
        for name, stack in stacks.items():
            if config.warmup > 0:
                sequential(connections[name], stack, payloads, config.warmup)
            if config.wrk_warmup_seconds > 0:
                command = _wrk_command(result, stack, script, config.wrk_warmup_seconds)
                wrk.run(command, config.wrk_warmup_seconds)


def _steps(
    result: PerfResult,
    stacks: Mapping[str, Stack],
    connections: Mapping[str, http.client.HTTPConnection],
    floor: FloorServer,
    script: Path,
    payloads: Sequence[bytes],
) -> dict[str, Callable[[int], None]]:
    """What each round measures, by step name; each call appends one round's figures."""
    config = result.config
    on_sut: list[CpuNs] = [s.confinement.cpu_usage_ns for s in stacks.values()]
    argv = in_process_argv(config, result.sut_cpus)

    def in_process_step(_: int) -> None:
        with watched(result, IN_PROCESS, [_children_cpu_ns]):
            timeout_s = 60 + 2 * config.in_process_seconds
            result.in_process_rps.append(in_process(argv, timeout_s))

    def floor_step(_: int) -> None:
        # This process runs the floor's client on the SUT CPU meanwhile: its CPU is measured.
        own: list[CpuNs] = [floor.confinement.cpu_usage_ns, time.process_time_ns]
        with watched(result, FLOOR, own):
            sample = round_trips(floor, payloads, FLOOR_WARMUP, config.requests)
        result.low.setdefault(FLOOR, []).append(sample)

    def sequential_step(name: str) -> Callable[[int], None]:
        def step(_: int) -> None:
            with pinned(result.generator_cpus), watched(result, f"{name} sequential", on_sut):
                sample, headers = sequential(
                    connections[name], stacks[name], payloads, config.requests
                )
            result.low.setdefault(name, []).append(sample)
            hop_values(headers, result.hop_ms.setdefault(name, {}))

        return step

    def wrk_step(name: str) -> Callable[[int], None]:
        command = _wrk_command(result, stacks[name], script, config.wrk_seconds)

        def step(_: int) -> None:
            with watched(result, f"{name} wrk", on_sut):
                peak = wrk.run(command, config.wrk_seconds)
            result.peaks.setdefault(name, []).append(peak)
            stacks[name].check_alive()

        return step

    steps: dict[str, Callable[[int], None]] = {IN_PROCESS: in_process_step, FLOOR: floor_step}
    steps.update({f"{name} sequential": sequential_step(name) for name in stacks})
    steps.update({f"{name} wrk": wrk_step(name) for name in stacks})
    return steps


def main(config: PerfConfig) -> PerfResult:
    """Run everything, print the tables, and return what was measured."""
    console = stdout(160)
    progress = Console(stderr=True)
    started = time.monotonic()
    # SIGTERM unwinds like Ctrl-C, so that every stack, wrk and server process is stopped.
    with terminate_as_interrupt():
        result = run(config, lambda message: progress.print(f"[dim]… {message}[/]"))
    console.print(report.ratios_table(report.ratios(result)))
    console.print(report.targets(result))
    console.print(report.figures(result))
    tracing = report.tracing(result)
    if tracing is not None:
        console.print(tracing)
    for line in report.conditions(result, POOL_SIZE):
        console.print(line, highlight=False)
    console.print(f"took {time.monotonic() - started:.0f} s", highlight=False)
    return result
