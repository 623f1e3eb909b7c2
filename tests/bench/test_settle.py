"""The capacity search's settling between trials, against a real server that works off a backlog
of abandoned requests before it answers a new one at its idle speed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load.settle import SETTLE_RUN, idle_latency_s, settle


class Backlogged(BaseHTTPRequestHandler):
    """Answers after the server's remaining backlog (one lock: one request at a time)."""

    def do_GET(self) -> None:
        server = self.server
        with server.lock:  # type: ignore[attr-defined]
            if server.backlog_s > 0:  # type: ignore[attr-defined]
                time.sleep(0.2)
                server.backlog_s -= 0.2  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Backlogged)
    httpd.lock = threading.Lock()  # type: ignore[attr-defined]
    httpd.backlog_s = 0.0  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def caller(httpd: ThreadingHTTPServer) -> tuple[list[int], Callable[[], None]]:
    port = httpd.server_address[1]
    calls: list[int] = []

    def call() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while conn.recv(4096):
                pass
        calls.append(1)

    return calls, call


def test_an_idle_stack_settles_after_the_run_of_fast_answers(
    server: ThreadingHTTPServer,
) -> None:
    calls, call = caller(server)
    idle_s = idle_latency_s(call)
    calls.clear()
    settle(call, idle_s, limit_s=30)
    assert len(calls) == SETTLE_RUN


def test_a_backlog_is_worked_off_before_the_next_trial(server: ThreadingHTTPServer) -> None:
    calls, call = caller(server)
    idle_s = idle_latency_s(call)
    server.backlog_s = 1.0  # type: ignore[attr-defined]
    settle(call, idle_s, limit_s=30)
    # it waited out the whole backlog, whatever the machine's speed
    assert server.backlog_s <= 0  # type: ignore[attr-defined]
    assert len(calls) > SETTLE_RUN


def test_settling_is_bounded_in_time(server: ThreadingHTTPServer) -> None:
    _, call = caller(server)
    server.backlog_s = 1e9  # type: ignore[attr-defined]  # never settles
    assert settle(call, 1e-6, limit_s=0.5) < 5
