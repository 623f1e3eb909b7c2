"""A fixed set of worker greenlets, each sending one request at a time: the open-loop scheduler's
bound on requests in flight, without a greenlet spawned per request.

Handing a request to an idle worker costs about 1 us of generator CPU here; a spawn in a
`gevent.pool.Pool` (greenlet creation, links, semaphore) about 14 us. Imported only inside
Locust processes (it pulls in gevent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
from gevent.hub import Waiter, get_hub


class Workers:
    """`size` greenlets that each run `work(*args)` for one submitted request at a time."""

    def __init__(self, size: int, work: Callable[..., None]) -> None:
        self.size = size
        self.work = work
        self.idle: list[Waiter] = []
        self._freed = gevent.event.Event()
        self._loop = get_hub().loop
        self._greenlets = [gevent.spawn(self._serve) for _ in range(size)]
        gevent.sleep(0)  # let every worker reach its first wait

    def _serve(self) -> None:
        waiter = Waiter()
        while True:
            self.idle.append(waiter)
            if not self._freed.is_set():
                self._freed.set()
            self.work(*waiter.get())

    def full(self) -> bool:
        """Every worker is busy with a request."""
        return not self.idle

    def wait_available(self, timeout_s: float) -> None:
        """Block until a worker is idle, or for `timeout_s` at most."""
        if not self.idle:
            self._freed.wait(timeout_s)

    def submit(self, *args: Any) -> None:
        """Hand a request to an idle worker (check `full()` first); it starts at the next turn."""
        waiter = self.idle.pop()
        if not self.idle:
            self._freed.clear()
        self._loop.run_callback(waiter.switch, args)

    def wait_idle(self, timeout_s: float) -> None:
        """Wait (bounded) until no request is in flight."""
        deadline = time.monotonic() + timeout_s
        while len(self.idle) < self.size and time.monotonic() < deadline:
            gevent.sleep(0.01)

    def close(self, timeout_s: float) -> None:
        """Wait (bounded) for the requests in flight, then stop every worker."""
        self.wait_idle(timeout_s)
        gevent.killall(self._greenlets, timeout=1.0)
