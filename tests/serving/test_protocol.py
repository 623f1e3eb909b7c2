"""Responses leave in one write: the head waits for the body, and never beyond the loop's turn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from serving.protocol import _OneWriteTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


class FakeLoop:
    def __init__(self) -> None:
        self.soon: list[Callable[[], Any]] = []

    def call_soon(self, callback: Callable[[], Any]) -> None:
        self.soon.append(callback)

    def turn(self) -> None:
        for callback in self.soon:
            callback()
        self.soon.clear()


def wrapped() -> tuple[_OneWriteTransport, FakeTransport, FakeLoop]:
    inner, loop = FakeTransport(), FakeLoop()
    transport = _OneWriteTransport(inner, loop)  # type: ignore[arg-type]
    return transport, inner, loop


def test_head_and_body_go_out_in_one_write() -> None:
    transport, inner, loop = wrapped()
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b"{}")
    loop.turn()
    assert inner.writes == [HEAD + b"{}"]


def test_a_lone_head_leaves_on_the_next_turn_of_the_loop() -> None:
    transport, inner, loop = wrapped()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    loop.turn()
    assert inner.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_close_sends_a_held_head_first_and_other_writes_pass_through() -> None:
    transport, inner, _ = wrapped()
    transport.write(b"chunk")
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [b"chunk", HEAD] and inner.closed
    assert transport.get_extra_info("peername") == "info:peername"


def test_a_real_event_loop_flushes_a_lone_head() -> None:
    async def main() -> list[bytes]:
        inner = FakeTransport()
        transport = _OneWriteTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(HEAD)
        await asyncio.sleep(0)
        return inner.writes

    assert asyncio.run(main()) == [HEAD]
