"""The hop tax of Docker's bridge network against loopback: the floor hop, container to container.

The floor server (bench.selfcheck.perf.floor's app under serving.asgi.serve, as every service
is served) runs in a container of the image on a bridge network of its own, beside an idle
second container. Each round calls it through the gateway's own client (microservices.hops) in
two ways, in alternating order (bench.selfcheck.rounds): from inside its own container to
127.0.0.1 (loopback, as the local stacks' hops go), and from inside the second container to the
server's address on the bridge (as the Docker stacks' hops go: veth, bridge, veth). The client
joins each container's network namespace (stack.netns) and runs on the system-under-test CPU,
both containers sit under one cgroup with the stack's budget there: the same server, client and
CPU, only the path differs. Its raw record (bench.analyse.bridge.RAW_FILE) gives the figures.
Nothing is left on the engine: both containers and the network are removed.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import docker
import uvloop

from bench.analyse.bridge import SIDES
from bench.selfcheck.conditions import pinned
from bench.selfcheck.microbench import bodies
from bench.selfcheck.perf.floor import timed_round_trips
from bench.selfcheck.perf.result import Sample
from bench.selfcheck.rounds import run_rounds
from pipeline import bundle as bundles
from stack import engine as engines
from stack.budget import Confinement
from stack.compose import IMAGE
from stack.engine import PROJECT_LABEL, EngineError
from stack.netns import call_in, ready_in
from stack.topology import COMMON_ENV, Budget

PORT = 8000
ROUNDS, REQUESTS, WARMUP = 6, 300, 50
READY_TIMEOUT_S = 60.0
# The floor app served as every service is; host and port from the image's ARCHBENCH_* settings.
SERVE = (
    "from bench.selfcheck.perf.floor import FloorApp; from serving.asgi import serve; "
    "from serving.settings import Settings; serve(FloorApp(), Settings.from_env())"
)
IDLE = "import signal; signal.pause()"
_counter = itertools.count()


def measure(
    model_dir: Path,
    budget: Budget,
    rounds: int = ROUNDS,
    requests: int = REQUESTS,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Start the pair, measure both paths in `rounds` interleaved rounds, remove the pair; the
    raw record (per side, one Sample per round)."""
    payloads = bodies(bundles.records(model_dir), 1)
    engine = engines.client()
    engines.require_image(engine, IMAGE)
    project = f"archbench-bridge-{os.getpid()}-{next(_counter)}"
    confinement = Confinement(project, budget)
    applied = confinement.apply()
    if applied.mechanism != "cgroup-v1":
        confinement.remove()
        raise EngineError("the Docker backend needs a writable cgroup v1 hierarchy (run as root)")
    try:
        server, idle, address = _start_pair(engine, project, "/" + str(applied.cgroup))
        samples: dict[str, list[Sample]] = {side: [] for side in SIDES}
        targets = {"loopback": (server, "127.0.0.1"), "bridge": (idle, address)}

        def step(side: str) -> Callable[[int], None]:
            pid, host = targets[side]
            url = f"http://{host}:{PORT}"

            def call() -> Sample:
                with pinned(confinement.cpus):
                    trips = timed_round_trips(
                        url, payloads, WARMUP, requests, confinement.cpu_usage_ns
                    )
                    return uvloop.run(trips)

            return lambda _: samples[side].append(call_in(pid, call, timeout_s=120.0))

        run_rounds({side: step(side) for side in SIDES}, rounds, say)
    finally:
        engines.remove_project(engine, project)
        confinement.remove(timeout_s=15.0)
        engines.remove_engine_cgroups(applied.cgroup)
    return {
        "engine": engines.engine_version(engine),
        "image": IMAGE,
        "rounds": rounds,
        "requests": requests,
        "warmup": WARMUP,
        "cpus": confinement.cpus,
        "order": "ABBA (bench.selfcheck.rounds.order)",
        "samples": {side: [asdict(s) for s in got] for side, got in samples.items()},
    }


def _start_pair(engine: docker.DockerClient, project: str, parent: str) -> tuple[int, int, str]:
    """The floor server's and the idle container's main processes, and the server's address on
    their bridge network, once the server answers on its own loopback."""
    labels = {PROJECT_LABEL: project}
    network = engine.networks.create(project, driver="bridge", labels=labels)
    started = {}
    for role, code in (("floor", SERVE), ("idle", IDLE)):
        started[role] = engine.containers.run(
            IMAGE,
            ["python", "-c", code],
            name=f"{project}-{role}",
            detach=True,
            labels=labels,
            network=network.name,
            cgroup_parent=parent,
            environment={**COMMON_ENV, "ARCHBENCH_PORT": str(PORT)},
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        for container in started.values():
            container.reload()
        server, idle = started["floor"], started["idle"]
        pids = [int(c.attrs["State"]["Pid"] or 0) for c in (server, idle)]
        if all(pids) and ready_in(pids[0], PORT, path="/", timeout_s=0.5):
            break
        if time.monotonic() > deadline or server.status == "exited":
            raise EngineError(f"the bridge's floor server did not start: {_tail(server)}")
        time.sleep(0.1)
    address = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
    return pids[0], pids[1], str(address)


def _tail(container: Any) -> str:
    logs: bytes = container.logs(tail=5)
    return logs.decode(errors="replace").strip() or "no output"
