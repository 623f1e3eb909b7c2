"""Faults on a real engine: a crashed container is brought back by Docker's restart policy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker

from tests.conftest import request
from tests.docker.conftest import docker_stack
from tests.serving.test_parity import GOOD

BODY = json.dumps(GOOD).encode()


def test_a_crash_of_score_is_restarted_by_docker_while_validate_keeps_serving(
    engine: docker.DockerClient, tmp_path: Path, model_dir: Path
) -> None:
    for stack in docker_stack("micro", tmp_path, model_dir, restart=True):
        old = stack.pids()["score"]
        stack.kill_group(old)
        validate, predict = [], []
        deadline = time.monotonic() + 90
        # Until Docker's policy has score answering again (bounded): /validate needs no score.
        while not any(r.ready_unix for r in stack.restarts) and time.monotonic() < deadline:
            validate.append(request(stack.url, "/validate", BODY).status)
            predict.append(request(stack.url, "/predict", BODY).status)
            time.sleep(0.05)
        (restart,) = stack.restarts
        assert restart.service == "score" and restart.old_pid == old
        assert restart.exit_code == 137 and restart.new_pid not in (None, old)
        assert restart.restart_s is not None and 0 < restart.restart_s < 90
        assert validate and set(validate) == {200}
        # While score was down the gateway said so; after the restart it predicts again.
        assert 503 in predict
        assert request(stack.url, "/predict", BODY).status == 200
        state = engine.containers.get(f"{stack.project}-score-1").attrs
        assert state["RestartCount"] == 1
