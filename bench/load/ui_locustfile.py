"""The locustfile of `archbench ui`: one pickable shape per scenario, and a live Resources tab.

The users and their options are bench.load.users': the payloads are made from the bundle that
`--model-dir` names, the one the stack serves (bench.run.ui passes it).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import gevent
from flask import Response, jsonify, request
from locust import events
from locust.log import greenlet_exception_logger

from bench.load import shapes, users
from bench.load.users import ClosedLoopUser, OpenLoopUser
from bench.measure.process import STACK_PIDS_ENV, process_figures

__all__ = ["Capacity", "ClosedLoopUser", "OpenLoopUser", "Ramp", "Spike", "Steady"]

# `users.ScenarioShape` is not imported by name: Locust would list it as a shape of its own.


class _PickableShape(users.ScenarioShape):
    """A scenario that can be started from the UI again and again, whatever users are picked."""

    abstract = True  # not listed in the picker

    def reset_time(self) -> None:
        # Locust calls this when the shape starts, before the first tick.
        assert self.runner is not None
        closed = self.scenario in shapes.CLOSED_LOOP
        # The scenario decides the user class; another pick in the UI would crash the runner.
        self.runner.environment.user_classes = [ClosedLoopUser if closed else OpenLoopUser]
        # Workers run no shape: the scenario reaches them with the master's options.
        options: Any = self.runner.environment.parsed_options
        options.scenario = self.scenario
        super().reset_time()


class Capacity(_PickableShape):
    """Probe the throughput, then search the open-loop rate for the knee (OpenLoopUser)."""

    scenario = "capacity"


class Steady(_PickableShape):
    """One open-loop rate (--rate) for --warmup + --duration seconds (OpenLoopUser)."""

    scenario = "steady"


class Spike(_PickableShape):
    """Steady, --spike-multiple times the rate, steady again (OpenLoopUser)."""

    scenario = "spike"


class Ramp(_PickableShape):
    """Closed-loop users added up to --ramp-users, then held (ClosedLoopUser)."""

    scenario = "ramp"


TAB_KEY = "resources"
SAMPLE_INTERVAL_S = 1.0
MiB = 1 << 20
# Column keys are snake_case: the web UI camel-cases both these keys and the rows' keys.
TABLE_STRUCTURE = [
    {"key": "name", "title": "Service"},
    {"key": "status", "title": "Status"},
    {"key": "pid", "title": "PID"},
    {"key": "cpu_percent", "title": "CPU (% of a core)"},
    {"key": "rss_mib", "title": "Memory (RSS MiB)"},
]

logger = logging.getLogger(__name__)


class ResourceMonitor:
    """The latest CPU and memory of each service's process tree (gunicorn workers included)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._previous: dict[str, tuple[float, float]] = {}  # name -> (monotonic s, CPU s)
        self.rows: list[dict[str, Any]] = []
        self.sample()

    def sample(self) -> None:
        rows = []
        for name, pid in self.pids.items():
            figures = process_figures(pid)
            now = time.monotonic()
            row: dict[str, Any] = {"name": name, "pid": pid, "status": "stopped"}
            row.update(cpu_percent=None, rss_mib=None)
            if figures is None:
                self._previous.pop(name, None)
            else:
                previous = self._previous.get(name)
                self._previous[name] = (now, figures["cpu_s"])
                if previous is not None and now > previous[0]:
                    # A child that exited between samples takes its CPU time along: clamp at 0.
                    share = max(0.0, figures["cpu_s"] - previous[1]) / (now - previous[0])
                    row["cpu_percent"] = round(100 * share, 1)
                row.update(status="running", rss_mib=round(figures["rss_bytes"] / MiB, 1))
            rows.append(row)
        self.rows = rows

    def run(self) -> None:
        while True:
            gevent.sleep(SAMPLE_INTERVAL_S)
            self.sample()


def stack_pids() -> dict[str, int]:
    """The services' PIDs as `archbench ui` passes them; none when Locust runs on its own."""
    raw = os.environ.get(STACK_PIDS_ENV)
    if not raw:
        return {}
    return {str(name): int(pid) for name, pid in json.loads(raw).items()}


@events.init.add_listener
def _add_resources_tab(environment: Any, **_: Any) -> None:
    web_ui = environment.web_ui
    pids = stack_pids()
    if web_ui is None or not pids:
        return
    monitor = ResourceMonitor(pids)
    sampler = gevent.spawn(monitor.run)
    sampler.link_exception(greenlet_exception_logger(logger))
    web_ui.template_args.update(
        extendedTabs=[{"key": TAB_KEY, "title": "Resources"}],
        extendedTables=[{"key": TAB_KEY, "structure": TABLE_STRUCTURE}],
    )

    @web_ui.app.route("/resources")
    def resources() -> Response:
        return jsonify({"rows": monitor.rows})

    @web_ui.app.after_request
    def with_resources(response: Response) -> Response:
        # The tab's table shows the rows that the periodic stats request carries.
        if request.endpoint != "locust.request_stats" or response.status_code != 200:
            return response
        stats = json.loads(response.get_data())
        stats["extended_stats"] = [{"key": TAB_KEY, "data": monitor.rows}]
        response.set_data(json.dumps(stats))
        return response
