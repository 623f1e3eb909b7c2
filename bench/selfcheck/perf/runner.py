"""Runs `archbench perf`: the in-process pipeline, both stacks at low load, then each under wrk;
and its entry, which prints the report."""

from __future__ import annotations

import http.client
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console

from bench.measure.contention import Ticks, foreign_share
from bench.report.console import stdout
from bench.selfcheck import wrk
from bench.selfcheck.conditions import cpu_list, pinned
from bench.selfcheck.microbench import PIPELINE, POOL_SIZE, bodies
from bench.selfcheck.perf import report
from bench.selfcheck.perf.result import (
    ARCHITECTURES,
    PREDICT,
    SECURED,
    LowLoad,
    PerfConfig,
    PerfResult,
    in_process_argv,
)
from pipeline import bundle as bundles
from serving.timing import HOP_SUFFIX, parse
from stack.budget import generator_cpus, sut_cpus
from stack.runner import Stack
from stack.topology import COMMON_ENV, Budget

HEADERS = {"content-type": "application/json"}


def in_process(argv: list[str], cpus: Sequence[int], timeout_s: float) -> tuple[float, float]:
    """Run the microbench: (pipeline requests/s, share of the CPUs taken by other work)."""
    before, children_before = Ticks.read(cpus), _children_cpu_ns()
    done = subprocess.run(
        argv,
        env={**os.environ, **COMMON_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout_s,
    )
    foreign = foreign_share(before, Ticks.read(cpus), _children_cpu_ns() - children_before)
    row = next(r for r in json.loads(done.stdout) if r["name"] == PIPELINE)
    return 1e6 / float(row["mean_us"]), foreign


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


def low_load(
    stacks: dict[str, Stack], payloads: Sequence[bytes], config: PerfConfig
) -> dict[str, LowLoad]:
    """Sequential requests on one keep-alive connection per stack, after a warm-up.

    The stacks take turns in rounds, so a slow spell of the machine hits both alike instead of
    landing in one architecture's figures.
    """
    clock = time.perf_counter_ns
    connections = {
        arch: http.client.HTTPConnection("127.0.0.1", stack.entry.port, timeout=10)
        for arch, stack in stacks.items()
    }
    latencies_ns: dict[str, list[int]] = {arch: [] for arch in stacks}
    headers: dict[str, list[str | None]] = {arch: [] for arch in stacks}
    cpu_ns: dict[str, int | None] = dict.fromkeys(stacks, 0)
    per_round = -(-config.requests // config.rounds)
    try:
        for connection in connections.values():
            for i in range(config.warmup):
                _post(connection, payloads[i % len(payloads)])
        for _ in range(config.rounds):
            for arch, stack in stacks.items():
                connection = connections[arch]
                cpu_before = stack.confinement.cpu_usage_ns()
                for i in range(per_round):
                    started = clock()
                    header = _post(connection, payloads[i % len(payloads)])
                    latencies_ns[arch].append(clock() - started)
                    headers[arch].append(header)
                cpu_after = stack.confinement.cpu_usage_ns()
                used = cpu_ns[arch]
                if used is None or cpu_before is None or cpu_after is None:
                    cpu_ns[arch] = None
                else:
                    cpu_ns[arch] = used + cpu_after - cpu_before
    finally:
        for connection in connections.values():
            connection.close()
    return {arch: _summary(latencies_ns[arch], headers[arch], cpu_ns[arch]) for arch in stacks}


def _summary(latencies_ns: list[int], headers: list[str | None], cpu_ns: int | None) -> LowLoad:
    requests = len(latencies_ns)
    hops: dict[str, list[float]] = {}
    for header in headers:
        for name, ms in parse(header).items():
            if name.endswith(HOP_SUFFIX):
                hops.setdefault(name, []).append(ms)
    latencies_ns = sorted(latencies_ns)
    return LowLoad(
        requests,
        statistics.median(latencies_ns) / 1e6,
        latencies_ns[min(requests - 1, int(requests * 0.99))] / 1e6,
        None if cpu_ns is None else cpu_ns / requests / 1e6,
        {name: statistics.median(values) for name, values in hops.items()},
    )


def _used_ns(stacks: Sequence[Stack]) -> int | None:
    used = [stack.confinement.cpu_usage_ns() for stack in stacks]
    return None if None in used else sum(u for u in used if u is not None)


@contextmanager
def watched(result: PerfResult, phase: str, stacks: Sequence[Stack]) -> Iterator[None]:
    """Record the share of the SUT CPU that went to other work than the stacks during the block."""
    before, used_before = Ticks.read(result.sut_cpus), _used_ns(stacks)
    yield
    used_after = _used_ns(stacks)
    if used_before is not None and used_after is not None:
        share = foreign_share(before, Ticks.read(result.sut_cpus), used_after - used_before)
        result.foreign[phase] = share


def run(config: PerfConfig, progress: Callable[[str], None] | None = None) -> PerfResult:
    """Measure in-process, then both stacks at low load, then each under wrk."""
    say = progress or (lambda _: None)
    budget = Budget()
    result = PerfResult(config, sut_cpus(budget), generator_cpus(budget))
    say(f"in-process pipeline on CPU {cpu_list(result.sut_cpus)}")
    argv = in_process_argv(config, result.sut_cpus)
    timeout_s = 60 + 2 * config.in_process_seconds
    result.in_process_rps, result.foreign["in-process"] = in_process(
        argv, result.sut_cpus, timeout_s
    )
    payloads = bodies(bundles.records(config.model_dir), 1)
    say(f"starting {' and '.join(ARCHITECTURES)}")
    with ExitStack() as running:
        # Both stacks run side by side (an idle stack takes no CPU) on separate ports.
        stacks = {
            arch: running.enter_context(Stack(arch, config.base_port + 10 * i, budget))
            for i, arch in enumerate(ARCHITECTURES)
        }
        # Secured hops: micro again with mutual TLS, in the same rounds as the plain one.
        port = config.base_port + 10 * len(ARCHITECTURES)
        stacks[SECURED] = running.enter_context(Stack("micro", port, budget, secure_hops=True))
        result.applied = stacks["monolith"].applied
        say(f"{config.requests} sequential requests each, in {config.rounds} alternating rounds")
        with pinned(result.generator_cpus), watched(result, "sequential", list(stacks.values())):
            result.low = low_load(stacks, payloads, config)
        script = (
            Path(running.enter_context(tempfile.TemporaryDirectory(prefix="archbench-perf-")))
            / "predict.lua"
        )
        script.write_text(wrk.lua_script(payloads))
        for arch, stack in stacks.items():
            say(f"{arch}: wrk for {config.wrk_seconds} s")
            command = wrk.command(
                stack.url + PREDICT.path,
                script,
                config.wrk_seconds,
                config.wrk_threads,
                config.wrk_connections,
                result.generator_cpus,
            )
            with watched(result, f"{arch} wrk", list(stacks.values())):
                result.peaks[arch] = wrk.run(command, config.wrk_seconds)
            stack.check_alive()
    return result


def main(config: PerfConfig) -> PerfResult:
    """Run everything, print the tables; the result, to keep (bench.selfcheck.perf.stored)."""
    console = stdout(140)
    progress = Console(stderr=True)
    result = run(config, lambda message: progress.print(f"[dim]… {message}[/]"))
    console.print(report.targets(result))
    console.print(report.figures(result))
    for line in report.conditions(result, POOL_SIZE):
        console.print(line, highlight=False)
    return result
