"""Run a call inside a container's network namespace, in a thread of its own.

A stage container publishes no port, so the host reaches its /readyz on the container's own
loopback: a fresh thread joins the namespace of the container's process (setns changes the
calling thread only) and makes its connection there. No traffic crosses Docker's bridge.
"""

from __future__ import annotations

import ctypes
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def call_in(pid: int, call: Callable[[], T], timeout_s: float = 5.0) -> T:
    """`call()` run in the network namespace of process `pid`; OSError if it cannot join it."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(
                        errno, f"setns into the network of pid {pid}: {os.strerror(errno)}"
                    )
            finally:
                os.close(fd)
            outcome.append(call())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"archbench-netns-{pid}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if failure:
        raise failure[0]
    if not outcome:
        raise TimeoutError(f"no answer within {timeout_s} s in the network of pid {pid}")
    return outcome[0]


def ready_in(pid: int, port: int, path: str = "/readyz", timeout_s: float = 1.0) -> bool:
    """Whether the service of container process `pid` answers 200 on its own loopback now."""

    def probe() -> bool:
        url = f"http://127.0.0.1:{port}{path}"
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)

    try:
        return call_in(pid, probe, timeout_s + 1.0)
    except (urllib.error.URLError, OSError, TimeoutError):
        return False
