"""The compose stacks on a real engine answer as the local stacks do, byte for byte."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pipeline.bundle import ModelBundle
from stack.docker_stack import DockerStack
from stack.runner import Stack
from tests.conftest import comparable
from tests.docker.conftest import docker_stack
from tests.serving.test_parity import INVALID, answers, valid_requests


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
