"""Locust user classes: an open-loop scheduler and classic closed-loop users, both recording every
request's exact latency. Imported only inside Locust processes (it pulls in gevent)."""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import LoadTestShape, User, constant, events, task
from locust.exception import CatchResponseError, StopTest, StopUser

from bench.atomic import write_atomic
from bench.load import distributed, distributed_search, payloads, search, shapes, wire
from bench.load.search import MIN_REQUESTS, SearchConfig, Trial, trial_seconds
from bench.load.sender import Request, Sender, judged, search_config
from bench.load.shapes import Schedule
from bench.load.trials import PROBE_CONCURRENCY, Trials
from bench.measure.latency import Recorder
from bench.measure.ledger import Ledger
from pipeline.errors import UserError
from pipeline.paths import DEFAULT_MODEL_DIR


@dataclass
class RunState:
    """What the scheduler, the shape and the dump share inside one Locust process."""

    recorder: Recorder = field(default_factory=Recorder)
    schedule: Schedule | None = None
    estimate_rps: float | None = None
    search: SearchConfig | None = None
    trials: list[Trial] = field(default_factory=list)
    # the capacity search: the idle latency of one prediction, and each trial's settle seconds
    idle_ms: float | None = None
    settle_s: list[float] = field(default_factory=list)
    done: bool = False
    driving: bool = False
    capture: bool = True
    window: dict[str, float] = field(default_factory=dict)


STATE = RunState()


@events.init.add_listener
def _stop_on_sigterm(environment: Any, **_: Any) -> None:
    # Headless Locust installs its SIGTERM handler only after a shape's run ends, so until then
    # SIGTERM would kill the process before it writes anything: stop the run cleanly instead.
    def stop() -> None:
        if environment.runner is not None:
            distributed.interrupt(environment)  # a master gathers its workers' records first
            environment.runner.stop()

    gevent.signal_handler(signal.SIGTERM, stop)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("archbench")
    group.add_argument("--scenario", choices=shapes.SCENARIOS, default="steady")
    group.add_argument("--rate", type=float, default=50.0, help="open-loop requests/s")
    group.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    group.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    group.add_argument(
        "--step-duration", type=float, default=2.0, help="capacity trial's shortest seconds"
    )
    group.add_argument(
        "--trial-max-duration", type=float, default=6.0, help="capacity trial's longest seconds"
    )
    group.add_argument(
        "--trial-requests",
        type=int,
        default=MIN_REQUESTS,
        help="requests a capacity trial lasts for, within its shortest and longest seconds",
    )
    group.add_argument("--max-trials", type=int, default=14, help="capacity trials at most")
    group.add_argument(
        "--search-tolerance",
        type=float,
        default=0.06,
        help="the capacity search stops when its bracket is this narrow (0.06: 6%%)",
    )
    group.add_argument("--slo-ms", type=float, default=100.0, help="p99 objective (capacity)")
    group.add_argument("--probe-duration", type=float, default=3.0, help="capacity probe seconds")
    group.add_argument("--spike-multiple", type=float, default=3.0)
    group.add_argument("--max-in-flight", type=int, default=64)
    group.add_argument("--ramp-users", type=int, default=16)
    group.add_argument("--ramp-spawn-rate", type=float, default=2.0)
    group.add_argument(
        "--model-dir",
        default=str(DEFAULT_MODEL_DIR),
        help="the served model's bundle, whose input records the payloads are made from",
    )
    group.add_argument("--payload-seed", type=int, default=1)
    group.add_argument("--invalid-share", type=float, default=payloads.DEFAULT_INVALID_SHARE)
    group.add_argument("--record-file", default="", help="where to write exact latencies")
    group.add_argument(
        "--request-log", default="", help="where to write every request (bench.measure.ledger)"
    )
    group.add_argument(
        "--batch-size", type=int, default=0, help="records per predict request (0: the mix's)"
    )
    group.add_argument(
        "--mix",
        default=",".join(payloads.DEFAULT_MIX),
        help="request names to send, with their default weights: "
        + ", ".join(payloads.DEFAULT_MIX),
    )
    group.add_argument(
        "--no-latency-capture",
        action="store_true",
        help="skip the exact-latency record (to measure what capturing costs)",
    )


@cache
def requests(
    model_dir: str,
    seed: int,
    invalid_share: float,
    mix: tuple[tuple[str, tuple[str, int, float]], ...],
    address: tuple[str, int],
) -> list[Request]:
    """The payload pool with each payload's request bytes, made once per process: closed-loop
    users, each cycling through it, start during the measured ramp."""
    try:
        source = payloads.source(Path(model_dir))
    except UserError as exc:
        raise StopTest(f"--model-dir: {exc}") from None
    pool = payloads.pool(source, seed, invalid_share=invalid_share, mix=dict(mix))
    return [(p, wire.encode(*address, p.path, p.body)) for p in pool]


class HttpUser(User):
    """A user with keep-alive connections sending requests encoded once (bench/load/wire.py).

    Not Locust's FastHttpUser: its session (UserAgent, response wrappers, catch_response) cost
    about 60-90 us of generator CPU per request here, more than all the rest of the request path.
    We fire Locust's request event ourselves, so its statistics, UI and reports are unchanged.
    """

    abstract = True
    network_timeout = 10.0
    connection_timeout = 2.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        url = urlsplit(self.host or "")
        if not url.hostname:
            raise StopTest(f"--host {self.host!r} is not an http://host:port URL")
        self.address = (url.hostname, url.port or 80)
        self.http = wire.Connections(*self.address, self.connection_timeout, self.network_timeout)

    def on_stop(self) -> None:
        # Users come and go in the web UI and ramps: leave no connection behind.
        self.http.close()

    def request_cycle(self) -> Iterator[Request]:
        """The payload pool named by the options, each with its request bytes, endlessly."""
        options = self.environment.parsed_options
        names = [n.strip() for n in options.mix.split(",") if n.strip()]
        unknown = [n for n in names if n not in payloads.DEFAULT_MIX]
        if unknown or not names:
            choices = ", ".join(payloads.DEFAULT_MIX)
            raise StopTest(f"--mix {options.mix!r}: choose from {choices}")
        mix = {n: payloads.DEFAULT_MIX[n] for n in names}
        if options.batch_size:
            mix = payloads.with_batch(mix, options.batch_size)
        return itertools.cycle(
            requests(
                options.model_dir,
                options.payload_seed,
                options.invalid_share,
                tuple(mix.items()),
                self.address,
            )
        )


def fire(user: HttpUser, request: Request, intended: float, capped: bool, record: bool) -> None:
    """Send one request and record it; a status other than the expected one is a failure."""
    payload, encoded = request
    started_unix = time.time()
    sent = time.perf_counter()
    status, length, server_timing, version = 0, 0, None, None
    failure: Exception | None = None
    try:
        status, length, server_timing, version = user.http.exchange(encoded)
    except Exception as exc:  # no answer at all (refused, reset, timeout): a failed request
        failure = exc
    done = time.perf_counter()
    ok = status == payload.expected_status
    if not ok and failure is None:
        failure = CatchResponseError(f"HTTP {status}, expected {payload.expected_status}")
    user.environment.events.request.fire(
        request_type="POST",
        name=payload.name,
        response_time=(done - sent) * 1000,
        response_length=length,
        response=None,
        context={},
        exception=failure,
        start_time=started_unix,
        url=payload.path,
    )
    if record and STATE.capture:
        STATE.recorder.record(
            payload.name, intended, sent, done, status, ok, server_timing, capped, version
        )


class OpenLoopUser(HttpUser):
    """One scheduler per process: issues requests at Poisson arrival times, never waiting for
    answers (in-flight requests bounded), so a slow server cannot lower the offered load."""

    @task
    def drive(self) -> None:
        if STATE.driving:  # one schedule per process: a user a master re-dispatches adds none
            raise StopUser()
        STATE.driving = True
        options = self.environment.parsed_options
        requests = self.request_cycle()
        scenario = distributed.scenario_of(self.environment)
        if scenario == "capacity":
            self.search(requests, options)
        else:
            if scenario == "spike":
                third = options.duration / 3
                schedule = shapes.spike(
                    options.rate, options.spike_multiple, third, third, third, options.warmup
                )
            else:
                schedule = shapes.steady(options.rate, options.duration, options.warmup)
            STATE.schedule = schedule
            sender = Sender(
                partial(fire, self),
                requests,
                options,
                schedule.warmup_s,
                STATE.recorder,
                STATE.window,
            )
            rng = random.Random(options.payload_seed)
            for step in schedule.steps:
                sender.run(step, rng)
            sender.close(self.network_timeout + 1)
        STATE.done = True
        distributed.report(self.environment, lambda: record_of(self.environment))
        raise StopUser()

    def search(self, requests: Iterator[Request], options: Any) -> None:
        """The capacity scenario: a closed-loop probe (the saturation throughput), a warm-up,
        then open-loop trials at the rates bench.load.search chooses. Each trial starts once the
        previous one's requests are answered and the stack answers at its idle speed again
        (bench.load.settle), on a whole bin, so its bins and its load are its own. A Locust
        worker runs its share of each trial as its master says (bench.load.distributed_search)."""
        trials = Trials(partial(fire, self), requests, options, STATE, self.network_timeout)
        config = STATE.search = search_config(options)
        if distributed.is_worker(self.environment):
            distributed_search.follow(self.environment, trials)
        else:
            idle_s = trials.idle_s()
            concurrency = min(PROBE_CONCURRENCY, options.max_in_flight)
            STATE.estimate_rps = estimate = trials.probe(concurrency, options.probe_duration)
            trials.warm_up(max(1.0, estimate / 2))

            def trial_at(rate: float) -> Trial:
                trials.settle(idle_s)
                step = trials.step(rate, trial_seconds(rate, config))
                return judged(step, *trials.window(step), config)

            search.run(trial_at, estimate, config, STATE.trials)
        trials.close()


class ClosedLoopUser(HttpUser):
    """A classic Locust user: sends, waits for the answer, sends again (no think time)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.requests = self.request_cycle()

    @task
    def call(self) -> None:
        fire(self, next(self.requests), time.perf_counter(), False, record=True)


class ScenarioShape(LoadTestShape):
    """Runs the scenario named by --scenario (or by a subclass's `scenario`)."""

    scenario: str | None = None

    def reset_time(self) -> None:
        # Locust calls this when a run starts, before the first tick and before test_start:
        # the last run's state would otherwise end a new run at once (runs repeat in the UI).
        global STATE
        STATE = RunState()
        super().reset_time()

    def tick(self) -> tuple[int, float, list[type]] | None:
        assert self.runner is not None
        environment = self.runner.environment
        options: Any = environment.parsed_options
        if distributed.scenario_of(environment) in shapes.CLOSED_LOOP:
            ramp = shapes.Ramp(options.ramp_users, options.ramp_spawn_rate, options.duration)
            users = ramp.users_at(self.get_run_time())
            if users is None:
                return None
            return users, options.ramp_spawn_rate, [ClosedLoopUser]
        if STATE.done or distributed.collected(self.runner, distributed.scenario_of(environment)):
            return None
        users = distributed.expected(self.runner)  # one open-loop user per worker
        return users, users, [OpenLoopUser]


@events.test_start.add_listener
def _on_start(environment: Any, **_: Any) -> None:
    global STATE
    options = environment.parsed_options
    STATE = RunState(capture=not getattr(options, "no_latency_capture", False))
    if getattr(options, "request_log", ""):
        STATE.recorder = Ledger()
    if distributed.scenario_of(environment) in shapes.CLOSED_LOOP:
        STATE.recorder.reset(time.perf_counter())
        STATE.window.update(
            cpu_s=time.process_time(), wall_s=time.perf_counter(), start_unix=time.time()
        )


@events.test_stop.add_listener
def _on_stop(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    scenario = distributed.scenario_of(environment)
    if scenario in shapes.CLOSED_LOOP and "wall_s" in STATE.window:
        STATE.window.update(
            cpu_s=time.process_time() - STATE.window["cpu_s"],
            wall_s=time.perf_counter() - STATE.window["wall_s"],
            end_unix=time.time(),
        )
    if not options or not options.record_file:
        return
    if distributed.report(environment, lambda: record_of(environment)):
        return
    # Atomic: a harness killed while Locust writes leaves no half record for a rebuilt summary.
    write_atomic(Path(options.record_file), record_of(environment))
    if isinstance(STATE.recorder, Ledger) and options.request_log:
        write_atomic(Path(options.request_log), STATE.recorder.ledger_json())


def record_of(environment: Any) -> dict[str, Any]:
    """This process's exact-latency record of the run so far."""
    options = environment.parsed_options
    scenario = distributed.scenario_of(environment)
    return STATE.recorder.to_json(
        scenario=scenario,
        schedule=STATE.schedule.to_json() if STATE.schedule else None,
        estimate_rps=STATE.estimate_rps,
        search=STATE.search.as_dict() if STATE.search else None,
        trials=[asdict(t) for t in STATE.trials],
        idle_ms=STATE.idle_ms,
        settle_s=STATE.settle_s,
        generator_cpu_s=STATE.window.get("cpu_s"),
        # the cores this process may run on: workers that share them are judged together
        generator_cpus=sorted(os.sched_getaffinity(0)),
        measured_wall_s=STATE.window.get("wall_s"),
        measured_unix=[STATE.window.get("start_unix"), STATE.window.get("end_unix")],
        blocked_s=STATE.window.get("blocked_s", 0.0),
        completed=STATE.done or scenario in shapes.CLOSED_LOOP,
        payload_seed=options.payload_seed,
    )
