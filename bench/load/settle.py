"""Waiting for a stack to settle between capacity trials: sequential requests until it answers
at its idle speed again. Plain blocking calls, no gevent: the caller passes the call to time."""

from __future__ import annotations

import time
from collections.abc import Callable

# The stack has settled after an overload when this many sequential requests in a row each take
# at most SETTLE_FACTOR times its idle latency plus SETTLE_SLACK_S: a request queued behind a
# leftover backlog (work whose client already gave up) takes a backlog's time, not an idle one's.
SETTLE_RUN = 3
SETTLE_FACTOR = 3.0
SETTLE_SLACK_S = 0.002


def timed(call: Callable[[], None]) -> float:
    """Seconds one call took."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def idle_latency_s(call: Callable[[], None], count: int = 10) -> float:
    """The median of `count` sequential calls' seconds, after as many unmeasured (warm-up)."""
    for _ in range(count):
        call()
    return sorted(timed(call) for _ in range(count))[count // 2]


def settle(call: Callable[[], None], idle_s: float, limit_s: float) -> float:
    """Sequential calls until the stack answers at its idle speed again (SETTLE_RUN in a row),
    or until `limit_s` has passed; the seconds it took.

    After an overloaded trial the stack may still be working off requests whose clients gave up
    (a gateway's stage timeout answers the client, not the stage's queue); a trial started then
    would fail for the last trial's load, not its own."""
    threshold_s = SETTLE_FACTOR * idle_s + SETTLE_SLACK_S
    started = time.perf_counter()
    run = 0
    while run < SETTLE_RUN and time.perf_counter() - started < limit_s:
        run = run + 1 if timed(call) <= threshold_s else 0
    return time.perf_counter() - started
