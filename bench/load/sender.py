"""The open-loop sender: one schedule's requests sent step by step at their intended times, and
the capacity search's trials judged from what was recorded. Imported only inside Locust processes
(it pulls in gevent)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
from hdrh.histogram import HdrHistogram

from bench.load import payloads, shapes
from bench.load.dispatch import Workers
from bench.load.search import SearchConfig, Trial, judge
from bench.measure.latency import Recorder, summary_ms

# Longest a request may wait past its time for a free in-flight slot before it is shed.
MAX_SLOT_WAIT_S = 1.0
# A payload with its request's bytes, encoded once (bench/load/wire.py).
Request = tuple[payloads.Payload, bytes]


def search_config(options: Any) -> SearchConfig:
    """The capacity search's settings from Locust's options."""
    return SearchConfig(
        slo_ms=options.slo_ms,
        tolerance=options.search_tolerance,
        max_trials=options.max_trials,
        min_requests=options.trial_requests,
        min_trial_s=options.step_duration,
        max_trial_s=max(options.step_duration, options.trial_max_duration),
    )


def bins_of(step: shapes.Step, bin_s: float) -> range:
    """The whole bins a step covers (a trial starts on a whole bin)."""
    return range(int(step.start_s // bin_s), int(step.end_s // bin_s))


def judged(
    step: shapes.Step, hist: HdrHistogram, counts: dict[str, int], config: SearchConfig
) -> Trial:
    """A trial from its intended-time histogram and counts: one process's, or the sum of its
    Locust workers' (histograms add, counters sum)."""
    ms = summary_ms(hist)
    p50, p99 = ms.get("p50", math.inf), ms.get("p99", math.inf)
    errors = (counts["failed"] + counts["shed"]) / counts["sent"] if counts["sent"] else 0.0
    achieved = (counts["ok"] + counts["failed"]) / step.duration_s
    return Trial(step.rate, counts["sent"], achieved, p50, p99, errors, judge(p99, errors, config))


class Sender:
    """Sends one open-loop schedule's requests, step by step, at their intended times: the
    in-flight bound, shedding, and the measured window's CPU, wall and blocked time."""

    def __init__(
        self,
        fire: Callable[..., None],
        requests: Iterator[Request],
        options: Any,
        warmup_s: float,
        recorder: Recorder,
        window: dict[str, float],
    ) -> None:
        self.requests = requests
        self.recorder = recorder
        self.window = window
        self.warmup_s = warmup_s
        self.in_flight = Workers(options.max_in_flight, fire)
        self.start = time.perf_counter() + 0.05
        recorder.reset(self.start, warmup_s)
        if options.record_file:  # the harness times the faults it injects from this mark
            mark = Path(options.record_file).with_name("schedule.start")
            mark.write_text(f"{time.time() + 0.05}")
        self.measuring = False
        self.blocked_until = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def run(self, step: shapes.Step, rng: random.Random) -> None:
        """Send one step's arrivals (drawn from `rng`), never waiting for answers."""
        for offset in shapes.step_arrivals(step, rng):
            intended = self.start + offset
            delay = intended - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            if not self.measuring and offset >= self.warmup_s:
                self.measuring = True
                self.window.update(
                    cpu_s=time.process_time(), wall_s=time.perf_counter(), start_unix=time.time()
                )
            self.send(next(self.requests), intended)
        delay = self.start + step.end_s - time.perf_counter()
        if delay > 0:  # a step ends at its end, not at its last arrival
            gevent.sleep(delay)

    def send(self, request: Request, intended: float) -> None:
        # A request is "capped" when the in-flight bound, not the generator, made it late:
        # it waited for a slot, or its time came while the scheduler was waiting for one.
        in_flight = self.in_flight
        capped = intended < self.blocked_until
        if in_flight.full():
            capped = True
            # Wait for a slot until the request is MAX_SLOT_WAIT_S late, then shed it, so a
            # stalled server cannot stall the schedule.
            wait_s = MAX_SLOT_WAIT_S - (time.perf_counter() - intended)
            waited_from = time.perf_counter()
            if wait_s > 0:
                in_flight.wait_available(wait_s)
            self.blocked_until = time.perf_counter()
            if self.measuring:
                self.window["blocked_s"] = (
                    self.window.get("blocked_s", 0.0) + self.blocked_until - waited_from
                )
            if in_flight.full():
                self.recorder.shed(request[0].name, intended)
                return
        in_flight.submit(request, intended, capped, True)

    def drain(self, timeout_s: float) -> None:
        """Wait (bounded) until every request sent has its answer."""
        self.in_flight.wait_idle(timeout_s)

    def close(self, timeout_s: float) -> None:
        self.window.update(
            cpu_s=time.process_time() - self.window.get("cpu_s", time.process_time()),
            wall_s=time.perf_counter() - self.window.get("wall_s", time.perf_counter()),
            end_unix=time.time(),
        )
        self.in_flight.close(timeout_s)
