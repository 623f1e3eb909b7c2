"""The compose stacks on a real engine answer as the local stacks do, byte for byte, and at rest
use little CPU, which the harness reads as the engine does."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import pytest

from pipeline.bundle import ModelBundle
from stack.budget import CGROUP_ROOT
from stack.docker_stack import DockerStack
from stack.engine import PROJECT_LABEL
from stack.runner import Stack
from tests.conftest import comparable
from tests.docker.conftest import docker_stack
from tests.serving.test_parity import INVALID, answers, valid_requests

# At rest a stack answers healthchecks only: ~20 CPU-ms (Docker's exec and a bash) every ~5 s
# per container, ~2.6% of a CPU for micro's five; a Python start per probe made it ~8%.
AT_REST_SHARE = 0.05
SLACK_NS = 5_000_000


@pytest.fixture(scope="module", params=["monolith", "micro"])
def on_docker(
    request: pytest.FixtureRequest,
    engine: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
    model_dir: Path,
) -> Iterator[DockerStack]:
    logs = tmp_path_factory.mktemp(f"docker-{request.param}")
    yield from docker_stack(request.param, logs, model_dir)


def test_every_container_is_healthy_and_only_the_entry_point_published(
    on_docker: DockerStack, engine: docker.DockerClient
) -> None:
    label = f"com.docker.compose.project={on_docker.project}"
    containers = engine.containers.list(filters={"label": label})
    health = {
        c.labels["com.docker.compose.service"]: c.attrs["State"]["Health"]["Status"]
        for c in containers
    }
    # Ready on the stack's own probe; Docker's healthcheck may not have run yet on the entry.
    assert set(health) == {s.name for s in on_docker.services}
    published = {
        c.labels["com.docker.compose.service"]: [
            (b["HostIp"], b["HostPort"])
            for bs in (c.attrs["NetworkSettings"]["Ports"] or {}).values()
            for b in bs or []
        ]
        for c in containers
    }
    entry = on_docker.entry.name
    assert published == {
        name: [("127.0.0.1", str(on_docker.base_port))] if name == entry else []
        for name in published
    }


@pytest.mark.parametrize("path", ["/predict", "/validate"])
def test_docker_answers_equal_the_local_stacks(
    on_docker: DockerStack,
    monolith: Stack,
    records: list[dict[str, object]],
    model: ModelBundle,
    path: str,
) -> None:
    rng = random.Random(7)
    bodies = [(b, "application/json") for b in valid_requests(records, model.schema, rng)]
    bodies += INVALID
    local = answers(monolith, path, bodies)  # type: ignore[arg-type]
    got = answers(on_docker, path, bodies)  # type: ignore[arg-type]
    assert {a.status for a in local} >= {200, 400, 413, 415, 422}
    assert [comparable(a) for a in got] == [comparable(a) for a in local]


def engine_cpu_ns(containers: Mapping[str, Any]) -> dict[str, int]:
    """Each container's CPU time so far, as the engine's stats API reports it."""
    return {
        name: c.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"]
        for name, c in containers.items()
    }


def last_probe(container: Any) -> str | None:
    """When the container's latest finished healthcheck started (None before its first)."""
    container.reload()
    log = container.attrs["State"]["Health"]["Log"]
    return str(log[-1]["Start"]) if log else None


def stack_cpu_ns(stack: DockerStack) -> int:
    """The stack's CPU time so far as the harness reads it: its parent cgroup's."""
    used = stack.confinement.cpu_usage_ns()
    assert used is not None
    return used


def test_at_rest_the_stack_uses_little_cpu_as_the_engine_reads_it_too(
    on_docker: DockerStack, engine: docker.DockerClient
) -> None:
    """At rest a stack serves only its healthchecks. Per container, from the end of one probe to
    the end of the next (one whole period: the probe, the /readyz it asks, the idle service),
    the CPU of the container's cgroup; summed over the containers, a small share of a CPU. (A
    probe that started Python made it ~8% for micro.) Over the same watch the stack's CPU as the
    harness reads it, its parent cgroup's, is what the engine's stats API says of the containers."""
    label = f"{PROJECT_LABEL}={on_docker.project}"
    containers = {c.name: c for c in engine.containers.list(filters={"label": label})}
    assert on_docker.applied is not None
    cgroup = CGROUP_ROOT / "cpuacct" / on_docker.applied.cgroup
    low0 = stack_cpu_ns(on_docker)
    engine0 = engine_cpu_ns(containers)
    high0 = stack_cpu_ns(on_docker)
    seen = {name: last_probe(c) for name, c in containers.items()}
    ends: dict[str, list[tuple[float, int]]] = {name: [] for name in containers}
    deadline = time.monotonic() + 30.0
    while any(len(e) < 2 for e in ends.values()) and time.monotonic() < deadline:
        for name, container in containers.items():
            if len(ends[name]) < 2 and (probe := last_probe(container)) != seen[name]:
                seen[name] = probe
                used_ns = int((cgroup / container.id / "cpuacct.usage").read_text())
                ends[name].append((time.monotonic(), used_ns))
        time.sleep(0.1)
    assert all(len(e) == 2 for e in ends.values()), f"two probes of each within 30 s: {ends}"
    low1 = stack_cpu_ns(on_docker)
    engine1 = engine_cpu_ns(containers)
    high1 = stack_cpu_ns(on_docker)
    share = sum((n1 - n0) / 1e9 / (t1 - t0) for (t0, n0), (t1, n1) in ends.values())
    assert share < AT_REST_SHARE, f"{share:.1%} of a CPU at rest"
    used_ns = sum(engine1.values()) - sum(engine0.values())
    # The engine read its counters between the harness's reads; a scheduler tick of slack.
    assert low1 - high0 - SLACK_NS <= used_ns <= high1 - low0 + SLACK_NS
