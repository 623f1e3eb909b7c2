"""The generator's HTTP path against a real stack: same answers as a plain client, connections
reused, and a connection the server closed replaced without losing later requests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bench import payloads, wire
from serving import timing
from stack.runner import Stack
from tests.conftest import request


def _address(stack: Stack) -> tuple[str, int]:
    host, port = stack.url.removeprefix("http://").split(":")
    return host, int(port)


def test_answers_match_a_plain_client(monolith: Stack) -> None:
    host, port = _address(monolith)
    connections = wire.Connections(host, port, 2.0, 10.0)
    try:
        for payload in payloads.pool(seed=3, size=40, invalid_share=0.3):
            answer = connections.exchange(wire.encode(host, port, payload.path, payload.body))
            plain = request(monolith.url, payload.path, payload.body)
            assert answer.status == plain.status == payload.expected_status
            assert answer.length == len(plain.body)
            # the same stages timed (the durations differ from request to request)
            plain_timing = timing.parse(plain.headers.get("server-timing"))
            assert timing.parse(answer.server_timing).keys() == plain_timing.keys()
            predicted = answer.status == 200 and payload.path == "/predict"
            assert ("score" in plain_timing) == predicted
        # one request at a time: a single keep-alive connection carried all of them
        assert len(connections.idle) == 1 and connections.idle[0].sock is not None
    finally:
        connections.close()
    assert connections.idle == []


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[int]]]:
    """A loopback server answering every request with 200 and `Connection: close`."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5.0)
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
    connection = wire.Connection("127.0.0.1", port, 2.0, 5.0)
    for _ in range(3):
        answer = connection.exchange(wire.encode("127.0.0.1", port, "/predict", b"{}"))
        assert (answer.status, answer.length) == (200, 2)
        assert connection.sock is None  # the server said close: not kept
    assert len(accepted) == 3


def test_no_answer_is_an_error_not_a_status() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    connection = wire.Connection("127.0.0.1", port, 2.0, 5.0)
    with pytest.raises(OSError):
        connection.exchange(wire.encode("127.0.0.1", port, "/predict", b"{}"))
    assert connection.sock is None
