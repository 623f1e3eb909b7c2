"""The load generator's HTTP path: requests encoded once, sent over keep-alive connections.

Each request's bytes (request line, headers, body) are built once per payload and reused, and
responses are parsed by geventhttpclient's C parser; a connection is owned by one request at a
time, so there is no pool to lock. What a generic client does per request instead (merge and
validate headers, encode the head, take a pooled socket) cost more generator CPU than all the
rest of a request's path. Imported only inside Locust processes (it pulls in gevent).
"""

from __future__ import annotations

import socket
from typing import NamedTuple

import gevent.socket
from geventhttpclient.response import HTTPSocketResponse


class Answer(NamedTuple):
    """What the generator keeps of a response: with the model version a prediction names."""

    status: int
    length: int
    server_timing: str | None
    version: str | None = None


VERSION_KEY = b'"model_version":"'


def version_of(body: bytes) -> str | None:
    """The `model_version` of a prediction's body (msgspec writes no spaces; a version holds no
    quote), found without decoding the whole body; None in any other answer."""
    at = body.find(VERSION_KEY)
    if at < 0:
        return None
    start = at + len(VERSION_KEY)
    end = body.find(b'"', start)
    return body[start:end].decode("utf-8", "replace") if end > 0 else None


def encode(host: str, port: int, path: str, body: bytes) -> bytes:
    """One whole HTTP/1.1 POST of a JSON body, ready to send."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class Connection:
    """One keep-alive connection, opened on first use and again after the server closes it."""

    def __init__(self, host: str, port: int, connect_timeout_s: float, timeout_s: float) -> None:
        self.address = (host, port)
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.sock: gevent.socket.socket | None = None

    def exchange(self, request: bytes) -> Answer:
        """Send one encoded request, read the whole response; raises on no (complete) answer."""
        sock = self.sock
        if sock is None:
            sock = gevent.socket.create_connection(self.address, timeout=self.connect_timeout_s)
            sock.settimeout(self.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
        try:
            sock.sendall(request)
            response = HTTPSocketResponse(sock, method="POST")
            body = response.read()
        except BaseException:
            self.close()
            raise
        if response.should_close():
            self.close()
        timing = response.get("server-timing")
        server_timing = timing if isinstance(timing, str) else None
        return Answer(response.status_code, len(body), server_timing, version_of(body))

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Connections:
    """Idle connections to one server, most recently used first: at a low rate few stay open."""

    def __init__(self, host: str, port: int, connect_timeout_s: float, timeout_s: float) -> None:
        self.idle: list[Connection] = []
        self._args = (host, port, connect_timeout_s, timeout_s)

    def exchange(self, request: bytes) -> Answer:
        connection = self.idle.pop() if self.idle else Connection(*self._args)
        try:
            return connection.exchange(request)
        finally:
            self.idle.append(connection)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()
