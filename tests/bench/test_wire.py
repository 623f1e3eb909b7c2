"""The generator's HTTP path against a real stack: same answers as a plain client, connections
reused, and a connection the server closed replaced without losing later requests.

bench.load.wire runs on gevent, which stays out of the test process: each check runs it in a child
process that prints what it saw as JSON.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bench.load import payloads
from pipeline import bundle
from pipeline.paths import DEFAULT_MODEL_DIR
from serving import timing
from stack.runner import Stack
from tests.conftest import request

PROBE = """
import json, sys
from bench.load import payloads
from bench.load import wire
from pipeline.paths import DEFAULT_MODEL_DIR
host, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
if kind == "pool":
    connections = wire.Connections(host, port, 2.0, 10.0)
    source = payloads.source(DEFAULT_MODEL_DIR)
    answers = [connections.exchange(wire.encode(host, port, p.path, p.body))
               for p in payloads.pool(source, seed=3, size=40, invalid_share=0.3)]
    out["answers"] = [list(a) for a in answers]
    out["idle"] = len(connections.idle)
    out["open"] = [c.sock is not None for c in connections.idle]
    connections.close()
    out["idle_after_close"] = len(connections.idle)
else:
    connection = wire.Connection(host, port, 2.0, 5.0)
    out["answers"], out["kept"], out["errors"] = [], [], []
    for _ in range(3):
        try:
            out["answers"].append(list(connection.exchange(wire.encode(host, port, "/x", b"{}"))))
        except OSError as exc:
            out["errors"].append(type(exc).__name__)
        out["kept"].append(connection.sock is not None)
print(json.dumps(out))
"""


def probe(host: str, port: int, kind: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, host, str(port), kind],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_answers_match_a_plain_client(monolith: Stack) -> None:
    host, port = monolith.url.removeprefix("http://").split(":")
    seen = probe(host, int(port), "pool")
    pool = payloads.pool(payloads.source(DEFAULT_MODEL_DIR), seed=3, size=40, invalid_share=0.3)
    version = bundle.load(DEFAULT_MODEL_DIR, with_model=False).version
    for payload, (status, length, server_timing, named) in zip(pool, seen["answers"], strict=True):
        plain = request(monolith.url, payload.path, payload.body)
        assert status == plain.status == payload.expected_status
        assert length == len(plain.body)
        # the same stages timed (the durations differ from request to request)
        plain_timing = timing.parse(plain.headers.get("server-timing"))
        assert timing.parse(server_timing).keys() == plain_timing.keys()
        predicted = status == 200 and payload.path == "/predict"
        assert ("score" in plain_timing) == predicted
        # the model version a prediction names, read without decoding the whole body
        assert named == (version if predicted else None)
        if predicted:
            assert json.loads(plain.body)["model_version"] == named
    # one request at a time: a single keep-alive connection carried all of them
    assert seen["idle"] == 1 and seen["open"] == [True]
    assert seen["idle_after_close"] == 0


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[int]]]:
    """A loopback server answering every request with 200 and `Connection: close`."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20.0)
    accepted: list[int] = []

    def serve() -> None:
        for _ in range(3):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                accepted.append(1)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    listener.close()
    thread.join(timeout=5.0)


def test_a_closed_connection_is_replaced(closing_server: tuple[int, list[int]]) -> None:
    port, accepted = closing_server
    seen = probe("127.0.0.1", port, "closing")
    assert seen["answers"] == [[200, 2, None, None]] * 3 and seen["errors"] == []
    assert seen["kept"] == [False] * 3  # the server said close: not kept
    assert len(accepted) == 3


def test_no_answer_is_an_error_not_a_status() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    seen = probe("127.0.0.1", port, "closing")
    assert seen["answers"] == [] and seen["errors"] == ["ConnectionRefusedError"] * 3
    assert seen["kept"] == [False] * 3
