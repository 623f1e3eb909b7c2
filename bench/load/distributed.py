"""Locust's master and workers for the open-loop scenarios: each worker's share of the schedule,
its record sent to the master as a custom message, and the master's exact merge written where a
single process would write its record (raw worker records beside it, in `workers/`).

Imported only inside Locust processes (it pulls in gevent). A worker is a Locust `--worker`,
forked by `--processes` on this machine or started on another with `--master-host`; the code is
the same. The master ends the run once every expected worker has sent its record or gone missing
(Locust marks a worker missing after three lost heartbeats): a stopped worker cannot send, so its
absence is found from what arrived, not from a timing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import events
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from bench.atomic import write_atomic
from bench.load import distributed_records as records

RECORD_MESSAGE = "archbench_record"
STOP_MESSAGE = "archbench_stop"
# When a master is stopped (SIGTERM), how long it waits for the records of its workers.
RECORD_WAIT_S = 8.0
WORKERS_DIR = "workers"

logger = logging.getLogger(__name__)


class Collector:
    """The master's view of its workers: the records received and the workers gone missing."""

    def __init__(self) -> None:
        self.received: dict[str, dict[str, Any]] = {}
        self.lost: set[str] = set()
        self.written = False
        # what the master itself adds to the merged record (the capacity search's trials)
        self.extra: dict[str, Any] = {}

    def on_record(self, environment: Any, msg: Any, **_: Any) -> None:
        runner = environment.runner
        record = dict(msg.data)
        record["worker_index"] = runner.get_worker_index(msg.node_id)
        record["worker_id"] = msg.node_id
        self.received[msg.node_id] = record


COLLECTOR = Collector()
# A worker's share as its run started (a later spawn message resets its options to the
# master's), and whether it has sent its record.
SHARE: dict[str, Any] = {"seed": None, "sent": False}


def is_worker(environment: Any) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def scenario_of(environment: Any) -> str:
    """The scenario this process runs: its shape's, else --scenario."""
    if is_worker(environment):  # a worker runs no shape: the master's options say
        return str(environment.parsed_options.scenario)
    shape = environment.shape_class
    return getattr(shape, "scenario", None) or environment.parsed_options.scenario


def expected(runner: Any) -> int:
    """Open-loop users to run: one per expected worker on a master, else one."""
    if isinstance(runner, MasterRunner):
        options: Any = runner.environment.parsed_options
        return max(1, int(options.expect_workers))
    return 1


def collected(runner: Any, scenario: str) -> bool:
    """On a master: whether every expected worker has sent its record or gone missing (at once
    for a scenario that workers do not share: it is refused with one line)."""
    if not isinstance(runner, MasterRunner):
        return False
    if scenario not in records.SCENARIOS:
        logger.error(
            "workers run the %s scenarios only, not %s: start Locust without workers for it",
            " and ".join(records.SCENARIOS),
            scenario,
        )
        return True
    COLLECTOR.lost.update(c.id for c in runner.clients.all if c.state == STATE_MISSING)
    done = set(COLLECTOR.received) | COLLECTOR.lost
    return len(done) >= expected(runner)


def report(environment: Any, record_of: Callable[[], dict[str, Any]]) -> bool:
    """Where a process's record goes: a worker sends it to the master (once), a master writes
    the merged record; False in a single process, which writes its own."""
    runner = environment.runner
    options = environment.parsed_options
    if isinstance(runner, WorkerRunner):
        if not SHARE["sent"]:
            SHARE["sent"] = True
            record = record_of()
            record.update(payload_seed=SHARE["seed"], worker_pid=os.getpid())
            runner.send_message(RECORD_MESSAGE, record)
        return True
    if isinstance(runner, MasterRunner):
        if options.record_file and not COLLECTOR.written:
            _write_merged(runner, Path(options.record_file))
        return True
    return False


def interrupt(environment: Any) -> None:
    """A master being stopped first asks its workers to stop (each then sends the record of
    what it sent) and waits for their records, bounded: Locust's own stop ends the master's
    message loop soon after."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    for client in runner.clients.all:
        runner.send_message(STOP_MESSAGE, None, client.id)
    deadline = time.monotonic() + RECORD_WAIT_S
    while not collected(runner, environment.parsed_options.scenario):
        if time.monotonic() > deadline:
            return
        gevent.sleep(0.1)


def _write_merged(runner: Any, path: Path) -> None:
    """Write each worker's raw record and the merged one (once)."""
    COLLECTOR.written = True
    received = sorted(COLLECTOR.received.values(), key=lambda r: r["worker_index"])
    for record in received:
        write_atomic(path.parent / WORKERS_DIR / f"worker-{record['worker_index']}.json", record)
    options = runner.environment.parsed_options
    merged = records.merge(received, expected(runner), options.payload_seed)
    write_atomic(path, merged | COLLECTOR.extra)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(RECORD_MESSAGE, COLLECTOR.on_record)
    if isinstance(runner, WorkerRunner):
        runner.register_message(STOP_MESSAGE, lambda **_: runner.stop())
        # Added after the runner's own listener, so run before it (quitting fires in reverse):
        # the record reaches the master before the worker says it quits.
        environment.events.quitting.add_listener(lambda **_: runner.stop())


@events.quitting.add_listener
def _write_on_quit(environment: Any, **_: Any) -> None:
    # A stopped master's Locust quits without its test_stop: what arrived is written here.
    options = environment.parsed_options
    master = isinstance(environment.runner, MasterRunner)
    if master and options.record_file and not COLLECTOR.written:
        _write_merged(environment.runner, Path(options.record_file))


@events.test_start.add_listener
def _take_share(environment: Any, **_: Any) -> None:
    # The master's options reach a worker with each spawn message, so its share is taken here,
    # as its run starts.
    runner = environment.runner
    if isinstance(runner, MasterRunner):  # runs repeat in the web UI
        COLLECTOR.__init__()  # type: ignore[misc]
    if isinstance(runner, WorkerRunner):
        options = environment.parsed_options
        options.rate = records.worker_rate(options.rate, int(options.expect_workers))
        options.payload_seed = records.worker_seed(options.payload_seed, runner.worker_index)
        SHARE.update(seed=options.payload_seed, sent=False)


@events.quitting.add_listener
def _stop_lost_workers(environment: Any, **_: Any) -> None:
    # Locust's master waits for the workers it forked as it exits: one that is stopped or hung
    # (it sent no record) would hold it forever. They are this process's own children.
    if not isinstance(environment.runner, MasterRunner):
        return
    reported = {r.get("worker_pid") for r in COLLECTOR.received.values()}
    for child in psutil.Process().children():
        if child.pid not in reported:
            logger.warning("stopping worker pid %d: it sent no record", child.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
