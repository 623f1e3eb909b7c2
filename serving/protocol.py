"""uvicorn's httptools protocol, sending a response's head and body in one write, and bounding
what it reads of a body nobody will use.

uvicorn writes the status line and headers as soon as the app starts a response, and the body
in a second write. On loopback each write is a segment that wakes the peer: the client reads the
head, sleeps, and wakes again for the body; on a single shared CPU the woken peer also preempts
the writer between the two. Holding the head until the body follows (at the latest until the
event loop's next turn) sends one segment per response and removes that second wake-up from
every request and every hop.

A request answered before its body was read (a 413 for a body over the limit) has the rest of
its body read and thrown away, so that a client still sending gets to read the answer rather
than a connection reset (which is what closing a socket with unread data sends). Only up to
DISCARD_LIMIT_BYTES: past that the connection is closed, so no client can keep a server reading
for ever.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DISCARD_LIMIT_BYTES = 64 << 20


class _OneWriteTransport:
    """A transport that holds a response head until the next write or the loop's next turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif data.startswith(b"HTTP/") and data.endswith(b"\r\n\r\n"):
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def writelines(self, lines: Any) -> None:
        self._flush()
        self._transport.writelines(lines)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (pause_reading, get_extra_info, is_closing, abort, ...) as it stands.
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose responses leave in one write (see the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped = _OneWriteTransport(transport, asyncio.get_running_loop())
        super().connection_made(wrapped)  # type: ignore[arg-type]
        self._discarded_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._discarded_bytes = 0

    def on_body(self, body: bytes) -> None:
        if self.cycle.response_complete:  # answered already: uvicorn throws this away
            self._discarded_bytes += len(body)
            if self._discarded_bytes > DISCARD_LIMIT_BYTES:
                self.transport.close()
            return
        super().on_body(body)
