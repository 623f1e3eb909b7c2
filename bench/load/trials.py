"""One Locust process's part of a capacity search: its idle latency, its closed-loop probe, its
warm-up, settling the stack, and open-loop steps at the rates it is given, on its own schedule.

The single-process search (bench.load.users) and each worker of a distributed one (bench.load.
distributed_search) drive the same steps; bench.load.search chooses the rates. Imported only
inside Locust processes (it pulls in gevent).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import gevent
from hdrh.histogram import HdrHistogram
from locust.exception import StopTest

from bench.load import shapes
from bench.load.sender import Request, Sender, bins_of
from bench.load.settle import idle_latency_s, settle
from bench.load.shapes import Schedule

# fire(request, intended, capped, record): send one request (bench.load.users.fire, bound).
Fire = Callable[..., None]
# Concurrent requests of the closed-loop probe (at most the in-flight bound).
PROBE_CONCURRENCY = 16


class Trials:
    """The steps of one process's capacity schedule; `state` (bench.load.users.RunState) gets
    its schedule, idle latency and settle times as they are known, for the record."""

    def __init__(
        self, fire: Fire, requests: Iterator[Request], options: Any, state: Any, timeout_s: float
    ) -> None:
        self.fire, self.requests, self.options = fire, requests, options
        self.state, self.timeout_s = state, timeout_s
        self.call = partial(fire, settle_request(requests), 0.0, False, record=False)
        self.sender: Sender | None = None
        self.steps: list[shapes.Step] = []
        self.warmup_s = float(math.ceil(options.warmup))
        self.rng = random.Random(options.payload_seed)

    def idle_s(self) -> float:
        """The stack's idle latency of one prediction (what settling is judged against)."""
        idle = idle_latency_s(self.call)
        self.state.idle_ms = idle * 1000
        return idle

    def probe(self, concurrency: int, seconds: float) -> float:
        """Closed-loop throughput with `concurrency` requests in flight."""
        deadline = time.perf_counter() + seconds
        completed = [0]

        def loop() -> None:
            while time.perf_counter() < deadline:
                self.fire(next(self.requests), time.perf_counter(), False, record=False)
                completed[0] += 1

        started = time.perf_counter()
        gevent.joinall([gevent.spawn(loop) for _ in range(concurrency)], timeout=seconds + 15)
        return completed[0] / max(1e-9, time.perf_counter() - started)

    def warm_up(self, rate: float) -> None:
        """Start the schedule: its unmeasured warm-up at `rate`."""
        state = self.state
        self.sender = Sender(
            self.fire, self.requests, self.options, self.warmup_s, state.recorder, state.window
        )
        if self.warmup_s:
            self.steps.append(shapes.Step(0.0, self.warmup_s, rate))
            state.schedule = Schedule(tuple(self.steps), self.warmup_s)
            self.sender.run(self.steps[-1], self.rng)

    def settle(self, idle_s: float) -> float:
        """Wait for every answer, then for the stack to answer at its idle speed again."""
        self.drain()
        settle_s = round(settle(self.call, idle_s, self.timeout_s), 3)
        self.state.settle_s.append(settle_s)
        return settle_s

    def elapsed_s(self) -> float:
        """Seconds since the schedule's start."""
        assert self.sender is not None, "warm_up starts the schedule"
        return self.sender.elapsed()

    def step(self, rate: float, duration_s: float, start_s: float | None = None) -> shapes.Step:
        """One open-loop step at `rate`, from `start_s` (default: the next whole bin), until
        every answer is in. The pause before it is a step at rate 0 (no arrivals)."""
        assert self.sender is not None, "warm_up starts the schedule"
        self.drain()
        start = float(math.ceil(self.sender.elapsed())) if start_s is None else start_s
        end = self.steps[-1].end_s if self.steps else 0.0
        if start > end:
            self.steps.append(shapes.Step(end, start - end, 0.0))
        step = shapes.Step(start, duration_s, rate)
        self.steps.append(step)
        self.state.schedule = Schedule(tuple(self.steps), self.warmup_s)
        self.sender.run(step, self.rng)
        self.drain()
        return step

    def window(self, step: shapes.Step) -> tuple[HdrHistogram, dict[str, int]]:
        """A finished step's intended-time histogram and counts."""
        recorder = self.state.recorder
        return recorder.window(bins_of(step, recorder.bin_s))

    def drain(self) -> None:
        if self.sender is not None:
            self.sender.drain(self.timeout_s)

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close(self.timeout_s + 1)


def settle_request(requests: Iterator[Request]) -> Request:
    """A valid single prediction from the pool: the request the stack's settling is timed with
    (always the same, so its idle latency is one figure)."""
    for _ in range(10_000):
        request = next(requests)
        payload = request[0]
        if payload.name == "predict" and payload.expected_status == 200:
            return request
    raise StopTest("the payload pool holds no valid single prediction to time settling")
