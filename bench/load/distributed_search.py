"""The capacity search across Locust workers: the master runs bench.load.search and each worker
its share of every trial, through Locust's custom messages, in the one master and workers.

Per trial the master has the first worker settle the stack (every worker has drained: each
answered its last trial only once all its requests were in), asks every worker for its schedule's
clock, and starts the trial on the next whole bin after the latest of them, so that the trial
holds the same bins in every worker's record. Each worker runs a Poisson process at rate/N and
answers with the trial's intended-time histogram and counts; the master adds them (HDR histograms
add) and judges the sum. A worker that goes missing ends the search; the run is then incomplete
and invalid (bench.load.distributed_records). Imported only inside Locust processes (gevent).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import gevent
import gevent.queue
from locust import events
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from bench.load import distributed, search, shapes
from bench.load.search import Trial, trial_seconds
from bench.load.sender import judged, search_config
from bench.load.trials import PROBE_CONCURRENCY, Trials
from bench.measure import latency

COMMAND_MESSAGE = "archbench_search_command"
REPLY_MESSAGE = "archbench_search_reply"
# Between the workers' clocks being read and their trial's first arrival: the command's way to
# every worker, so none starts its share late.
CLOCK_SLACK_S = 0.2
# Beyond its own seconds, how long a worker's answer may take (its settle, drain, the network).
ANSWER_GRACE_S = 60.0
# How long a worker waits for its master's next command before it gives up on the search.
COMMAND_WAIT_S = 300.0

logger = logging.getLogger(__name__)
# What arrives from the other side, one queue per process: a worker's commands, a master's
# answers (with the worker they came from).
COMMANDS: gevent.queue.Queue[dict[str, Any]] = gevent.queue.Queue()
ANSWERS: gevent.queue.Queue[tuple[str, dict[str, Any]]] = gevent.queue.Queue()
# Numbers the master's questions across runs (they repeat in the web UI), so that a late answer
# to a last run's question is never taken for an answer to this one's.
QUESTIONS = itertools.count(1)


class LostWorker(Exception):
    """A worker went missing or did not answer in time: the search cannot go on."""


class Leader:
    """The master's side: its workers in index order, its questions and their answers."""

    def __init__(self, runner: MasterRunner) -> None:
        self.runner = runner
        self.answers = ANSWERS

    def gather(
        self, seq: int, asked: Sequence[str] | None, timeout_s: float, count: int = 0
    ) -> dict[str, dict[str, Any]]:
        """The answers to question `seq` of every asked worker (None: of any `count` workers);
        LostWorker when one of them goes missing or time runs out."""
        got: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while len(got) < (count if asked is None else len(asked)):
            watched = list(self.runner.clients) if asked is None else asked
            lost = [w for w in watched if w not in got and self.missing(w)]
            if lost or time.monotonic() > deadline:
                raise LostWorker(f"worker(s) {lost or 'all'} gave no answer to question {seq}")
            try:
                node, data = self.answers.get(timeout=0.5)
            except gevent.queue.Empty:
                continue
            if data.get("seq") == seq and (asked is None or node in asked):
                got[node] = data
        return got

    def ask(
        self, asked: Sequence[str], op: str, timeout_s: float, **args: Any
    ) -> list[dict[str, Any]]:
        """Send one command to some workers; their answers in the order asked."""
        seq = next(QUESTIONS)
        for node in asked:
            self.runner.send_message(COMMAND_MESSAGE, {"seq": seq, "op": op, **args}, node)
        got = self.gather(seq, asked, timeout_s)
        return [got[node] for node in asked]

    def missing(self, node: str) -> bool:
        client = self.runner.clients.get(node)
        return client is None or client.state == STATE_MISSING


def lead(environment: Any) -> None:
    """The master's search: probe, warm-up and trials split across every expected worker; what
    it found goes into the merged record (distributed.COLLECTOR.extra)."""
    runner = environment.runner
    options = environment.parsed_options
    config = search_config(options)
    expected = distributed.expected(runner)
    leader = Leader(runner)
    trials: list[Trial] = []
    extra: dict[str, Any] = {"search": config.as_dict(), "settle_s": [], "trials": []}
    # per trial, each worker's counts (in worker index order; they sum to the trial's) and its
    # CPU share over the trial: which worker, if any, was the limit
    extra["trial_workers"] = []
    distributed.COLLECTOR.extra = extra
    finished = False
    try:
        everyone = _ready_workers(leader, expected)
        first, timeout_s = everyone[:1], options.trial_max_duration + ANSWER_GRACE_S
        (idle,) = leader.ask(first, "idle", ANSWER_GRACE_S)
        extra["idle_ms"] = idle["idle_s"] * 1000
        share = max(1, math.ceil(min(PROBE_CONCURRENCY, options.max_in_flight) / expected))
        probes = leader.ask(everyone, "probe", options.probe_duration + ANSWER_GRACE_S,
                            concurrency=share, seconds=options.probe_duration)  # fmt: skip
        extra["estimate_rps"] = estimate = sum(p["rps"] for p in probes)
        warm_rps = max(1.0, estimate / 2) / expected
        leader.ask(everyone, "warm_up", options.warmup + ANSWER_GRACE_S, rate=warm_rps)

        def trial_at(rate: float) -> Trial:
            rate = round(rate, 3)  # so that the merged schedule's rate (N × rate/N) is this one
            (settled,) = leader.ask(first, "settle", timeout_s, idle_s=idle["idle_s"])
            extra["settle_s"].append(settled["settle_s"])
            clocks = leader.ask(everyone, "clock", ANSWER_GRACE_S)
            start_s = float(math.ceil(max(c["elapsed_s"] for c in clocks) + CLOCK_SLACK_S))
            step = shapes.Step(start_s, trial_seconds(rate, config), rate)
            parts = leader.ask(everyone, "step", timeout_s, rate=rate / expected,
                               start_s=start_s, duration_s=step.duration_s)  # fmt: skip
            hist, counts = latency.histogram(), dict.fromkeys(parts[0]["counts"], 0)
            for part in parts:
                hist.add(latency.decode(part["hist"]))
                for key, value in part["counts"].items():
                    counts[key] += value
            trial = judged(step, hist, counts, config)
            extra["trial_workers"].append(
                [p["counts"] | {"cpu_share": p["cpu_share"]} for p in parts]
            )
            extra["trials"].append(asdict(trial))
            return trial

        search.run(trial_at, estimate, config, trials)
        finished = True
    except LostWorker as exc:
        logger.error("the capacity search stopped: %s", exc)
    finally:
        if not finished:  # cut short: the merged record must not read as a whole search
            extra["completed"] = False
        for node in list(runner.clients):
            runner.send_message(COMMAND_MESSAGE, {"seq": -1, "op": "done"}, node)


def _ready_workers(leader: Leader, expected: int) -> list[str]:
    """The workers whose share of the search has started (their answer to question 0, which
    comes unasked), in worker index order."""
    ready = leader.gather(0, None, ANSWER_GRACE_S, expected)
    return sorted(ready, key=leader.runner.get_worker_index)


def follow(environment: Any, trials: Trials) -> None:
    """A worker's side: run what the master asks, answer each command, until it says done."""
    runner = environment.runner
    runner.send_message(REPLY_MESSAGE, {"seq": 0})  # ready
    while True:
        try:
            command = COMMANDS.get(timeout=COMMAND_WAIT_S)
        except gevent.queue.Empty:
            logger.error("no command from the master for %.0f s: the search ends", COMMAND_WAIT_S)
            return
        op = command["op"]
        if op == "done":
            return
        answer: dict[str, Any] = {"seq": command["seq"]}
        if op == "idle":
            answer["idle_s"] = trials.idle_s()
        elif op == "probe":
            answer["rps"] = trials.probe(command["concurrency"], command["seconds"])
        elif op == "warm_up":
            trials.warm_up(command["rate"])
        elif op == "settle":
            answer["settle_s"] = trials.settle(command["idle_s"])
        elif op == "clock":
            trials.drain()
            answer["elapsed_s"] = trials.elapsed_s()
        elif op == "step":
            cpu_s, wall_s = time.process_time(), time.perf_counter()
            step = trials.step(command["rate"], command["duration_s"], command["start_s"])
            cpu_s, wall_s = time.process_time() - cpu_s, time.perf_counter() - wall_s
            hist, counts = trials.window(step)
            answer.update(hist=hist.encode().decode(), counts=counts, cpu_share=cpu_s / wall_s)
        runner.send_message(REPLY_MESSAGE, answer)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(COMMAND_MESSAGE, lambda msg, **_: COMMANDS.put(dict(msg.data)))
    if isinstance(runner, MasterRunner):
        runner.register_message(
            REPLY_MESSAGE, lambda msg, **_: ANSWERS.put((msg.node_id, dict(msg.data)))
        )


@events.test_start.add_listener
def _start_leading(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner) and distributed.scenario_of(environment) == "capacity":
        gevent.spawn(lead, environment)
