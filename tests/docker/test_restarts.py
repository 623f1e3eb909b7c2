"""Docker's restart policy on a real engine, on one micro stack: a crashed container is brought
back while /validate keeps serving, and a leaking one is killed by its own memory limit (the
engine's OOM record) and brought back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bench.run.injection import admin
from stack.docker_stack import DockerStack
from tests.conftest import request
from tests.docker.conftest import docker_stack
from tests.serving.test_parity import GOOD

BODY = json.dumps(GOOD).encode()


@pytest.fixture(scope="module")
def restarting(
    engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> Iterator[DockerStack]:
    """One micro stack under Docker's restart policy for the crash and the leak: each test
    looks only at the restart it caused, so either runs alone or after the other."""
    yield from docker_stack("micro", tmp_path_factory.mktemp("restarting"), model_dir, restart=True)


def restart_count(engine: docker.DockerClient, stack: DockerStack) -> int:
    return int(engine.containers.get(f"{stack.project}-score-1").attrs["RestartCount"])


def test_a_crash_of_score_is_restarted_by_docker_while_validate_keeps_serving(
    engine: docker.DockerClient, restarting: DockerStack
) -> None:
    stack, seen, count = restarting, len(restarting.restarts), restart_count(engine, restarting)
    old = stack.pids()["score"]
    stack.kill_group(old)
    validate, predict = [], []
    deadline = time.monotonic() + 90
    # Until Docker's policy has score answering again (bounded): /validate needs no score.
    while not any(r.ready_unix for r in stack.restarts[seen:]) and time.monotonic() < deadline:
        validate.append(request(stack.url, "/validate", BODY).status)
        predict.append(request(stack.url, "/predict", BODY).status)
        time.sleep(0.05)
    (restart,) = stack.restarts[seen:]
    assert restart.service == "score" and restart.old_pid == old
    assert restart.exit_code == 137 and restart.new_pid not in (None, old)
    assert restart.restart_s is not None and 0 < restart.restart_s < 90
    assert restart.killed_by_memory_limit is False  # a SIGKILL, not its memory limit
    assert validate and set(validate) == {200}
    # While score was down the gateway said so; after the restart it predicts again.
    assert 503 in predict
    assert request(stack.url, "/predict", BODY).status == 200
    assert restart_count(engine, stack) == count + 1


def test_a_leak_in_score_is_killed_by_its_containers_memory_limit_and_restarted(
    engine: docker.DockerClient, restarting: DockerStack
) -> None:
    stack, seen, count = restarting, len(restarting.restarts), restart_count(engine, restarting)
    old = stack.pids()["score"]
    # Through the admin listener on the container's own loopback, as the bench injects it.
    answer = admin(stack, "score", "PUT", {"stage": "score", "leak_mib_per_s": 1024.0})
    assert answer["faults"][0]["leak_mib_per_s"] == 1024.0
    validate = []
    deadline = time.monotonic() + 120
    while not any(r.ready_unix for r in stack.restarts[seen:]) and time.monotonic() < deadline:
        validate.append(request(stack.url, "/validate", BODY).status)
        time.sleep(0.1)
    (restart,) = stack.restarts[seen:]
    assert restart.service == "score" and restart.old_pid == old
    assert restart.exit_code == 137 and restart.killed_by_memory_limit is True
    assert restart.restart_s is not None and restart.restart_s > 0
    assert validate and set(validate) == {200}
    # The engine says the same: the container was OOM-killed under its own limit of 408 MiB.
    state = engine.containers.get(f"{stack.project}-score-1").attrs
    assert state["State"]["OOMKilled"] is True and state["RestartCount"] == count + 1
    assert state["HostConfig"]["Memory"] == 408 * 2**20
    # The new process starts clean: no fault is set in it.
    assert admin(stack, "score", "GET")["faults"] == []
    assert request(stack.url, "/predict", BODY).status == 200
