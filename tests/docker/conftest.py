"""The Docker tests' engine and image: skipped with one line naming why on a machine without an
engine, unless CI is set (CI=true), where a missing engine or image fails them instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from stack.docker_stack import DockerStack
from stack.engine import EngineError, client, leftovers
from stack.topology import Budget
from tests.conftest import free_base_port

IMAGE = "archbench:latest"


def unavailable(why: str) -> None:
    """Fail in CI, where the engine is part of the job; skip elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set and {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    try:
        found = client()
    except EngineError as exc:
        unavailable(str(exc))
    try:
        found.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"no image {IMAGE}: run `make base-image image`")
    return found


def docker_stack(
    arch: str, logs: Path, model_dir: Path, restart: bool = False, mode: str = "partition"
) -> Iterator[DockerStack]:
    stack = DockerStack(
        arch,
        free_base_port(),
        Budget(),
        logs,
        {"model_dir": model_dir},
        restart=restart,
        mode=mode,
    )
    with stack:
        yield stack
    left = [thing for thing in leftovers() if stack.project in thing]
    assert left == [], left
    # Its parent cgroup is gone from every hierarchy, the engine's own included.
    assert stack.applied is not None
    assert list(Path("/sys/fs/cgroup").glob(f"*/{stack.applied.cgroup}")) == []
