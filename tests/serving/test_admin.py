"""The admin endpoint on a real process: token required, loopback only, faults that really slow
or fail the chosen stage and nothing else."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from bench.run.injection import admin
from serving import timing
from stack.runner import Stack
from tests.conftest import Answer, free_base_port, request

RECORD = json.dumps(
    {
        "island": "Dream",
        "bill_length_mm": 46.5,
        "bill_depth_mm": 17.9,
        "flipper_length_mm": 192,
        "body_mass_g": 3500,
        "sex": "female",
    }
).encode()
PATH = "/admin/faults"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    # The public listener on every address, as in a container: the admin one must stay on
    # loopback all the same.
    logs = tmp_path_factory.mktemp("admin")
    settings = {"host": "0.0.0.0"}
    with Stack("monolith", free_base_port(), log_dir=logs, settings=settings) as running:
        yield running


def call(
    host: str,
    port: int,
    method: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, PATH, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def test_it_refuses_requests_without_the_token(stack: Stack) -> None:
    port = stack.service("monolith").admin_port
    for headers in (
        {},
        {"authorization": "Bearer not-the-token"},
        {"authorization": f"Basic {stack.admin_token}"},
        {"authorization": f"Bearer {stack.admin_token}x"},
    ):
        answer = call("127.0.0.1", port, "GET", headers=headers)
        assert answer.status == 401, headers
        assert json.loads(answer.body)["error"] == "unauthorized"
    spec = json.dumps({"stage": "score", "error_share": 1.0}).encode()
    answer = call("127.0.0.1", port, "PUT", spec, {"content-type": "application/json"})
    assert answer.status == 401
    # nothing was injected by the refused request
    assert admin(stack, "monolith", "GET")["faults"] == []


def test_it_is_not_reachable_off_loopback(stack: Stack) -> None:
    service = stack.service("monolith")
    listening = {
        c.laddr.port: c.laddr.ip
        for c in psutil.Process(stack.pids()["monolith"]).net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {service.port: "0.0.0.0", service.admin_port: "127.0.0.1"}
    # 127.0.0.2 reaches the public listener, not the admin one (bound to 127.0.0.1 alone)
    assert call("127.0.0.2", service.port, "GET").status == 404
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", service.admin_port), timeout=2)
    # on the public listener the route does not exist, token or not
    headers = {"authorization": f"Bearer {stack.admin_token}"}
    for method in ("GET", "PUT", "DELETE", "POST"):
        answer = call("127.0.0.1", service.port, method, b"{}", headers)
        assert answer.status == 404, method
        body = json.loads(answer.body)
        assert len(body.pop("trace_id")) == 32  # as any unknown route's answer
        assert body == {
            "error": "not_found",
            "message": f"no route {method} {PATH}",
            "stage": "monolith",
        }


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"stage": "scoring", "slow_ms": 10}, "stage"),
        ({"stage": "score", "error_share": 1.5}, "error_share"),
        ({"stage": "score", "slow_ms": -1}, "slow_ms"),
        ({"stage": "score", "slow_ms": "long"}, "slow_ms"),
        ({"stage": "score", "lag_ms": 10}, "lag_ms"),
        ({"slow_ms": 10}, "stage"),
    ],
)
def test_a_bad_fault_gets_422_naming_the_field(
    stack: Stack, spec: dict[str, object], field: str
) -> None:
    port = stack.service("monolith").admin_port
    headers = {"authorization": f"Bearer {stack.admin_token}", "content-type": "application/json"}
    answer = call("127.0.0.1", port, "PUT", json.dumps(spec).encode(), headers)
    assert answer.status == 422
    body = json.loads(answer.body)
    assert body["error"] == "invalid_fault" and body["problems"][0]["field"] == field, body
    headers["content-type"] = "text/plain"
    assert call("127.0.0.1", port, "PUT", b"{}", headers).status == 415


def timed(url: str, path: str) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = request(url, path, RECORD)
    return answer, time.monotonic() - started


def test_slow_and_errors_hit_that_stage_only(stack: Stack) -> None:
    admin(stack, "monolith", "PUT", {"stage": "score", "slow_ms": 200, "error_share": 0.3})
    try:
        with ThreadPoolExecutor(8) as pool:
            predicts = list(pool.map(lambda _: timed(stack.url, "/predict"), range(80)))
            validates = list(pool.map(lambda _: timed(stack.url, "/validate"), range(20)))
    finally:
        state = admin(stack, "monolith", "DELETE")
    assert state["faults"] == []
    failed = [a for a, _ in predicts if a.status != 200]
    # 30% of 80: 24 expected; +-10 is more than three standard deviations
    assert 14 <= len(failed) <= 34
    for answer in failed:
        body = json.loads(answer.body)
        assert answer.status == 500, body
        assert len(body.pop("trace_id")) == 32
        assert body == {
            "error": "injected_fault",
            "message": "stage 'score' failed (injected fault)",
            "stage": "score",
        }
    for answer, elapsed in predicts:
        assert elapsed >= 0.2  # the wait comes first, then the stage fails or runs
        if answer.status == 200:
            stages = timing.parse(answer.headers["server-timing"])
            assert 200 <= stages["score"] < 200 + 50 and stages["validate"] < 50
    # /validate does not pass through score: untouched (its whole time in the app is short)
    for answer, _ in validates:
        assert answer.status == 200
        assert timing.parse(answer.headers["server-timing"])["total"] < 50
    answer, _ = timed(stack.url, "/predict")
    assert answer.status == 200 and timing.parse(answer.headers["server-timing"])["score"] < 50
