"""A stage that is down or hung gives a prompt 503/504 naming it; other endpoints keep serving."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.runner import Stack
from tests.conftest import free_base_port, request

RECORD = json.dumps(
    {
        "island": "Torgersen",
        "bill_length_mm": 39.1,
        "bill_depth_mm": 18.7,
        "flipper_length_mm": 181,
        "body_mass_g": 3750,
        "sex": "male",
    }
).encode()
TIMEOUT_S = 0.5


@pytest.fixture
def stack(tmp_path: Path, model_dir: Path) -> Iterator[Stack]:
    settings = {"stage_timeout_s": TIMEOUT_S}
    with Stack("micro", free_base_port(), log_dir=tmp_path, settings=settings) as running:
        yield running


def timed_predict(stack: Stack, path: str = "/predict") -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    answer = request(stack.url, path, RECORD)
    return answer.status, json.loads(answer.body), time.monotonic() - started


def test_a_stopped_stage_gives_503_naming_it_and_validate_keeps_serving(stack: Stack) -> None:
    score = stack.processes["score"]
    os.kill(score.pid, signal.SIGKILL)
    score.wait(timeout=5)
    status, body, elapsed = timed_predict(stack)
    assert status == 503 and body["stage"] == "score" and body["error"] == "stage_unavailable"
    assert elapsed < TIMEOUT_S  # refused at once, not a wait for the timeout
    status, body, _ = timed_predict(stack, "/validate")
    assert (status, body) == (200, {"valid": True, "n_records": 1})
    ready = request(stack.url, "/readyz", method="GET")
    assert ready.status == 503 and json.loads(ready.body)["stages"]["score"] is False


def test_a_hung_stage_gives_504_within_the_timeout(stack: Stack) -> None:
    features = stack.processes["features"]
    os.kill(features.pid, signal.SIGSTOP)
    try:
        status, body, elapsed = timed_predict(stack)
    finally:
        os.kill(features.pid, signal.SIGCONT)
    assert status == 504 and body["stage"] == "features" and body["error"] == "stage_timeout"
    # not before the timeout; after it, however slow the machine, well before the client's 10 s
    assert TIMEOUT_S * 0.9 < elapsed < TIMEOUT_S + 5.0
    # once the stage resumes, the gateway serves again
    deadline = time.monotonic() + 5
    while (status := timed_predict(stack)[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200
