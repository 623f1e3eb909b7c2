"""The gateway's resilience patterns, each switched on or off per run by its settings: retries
within a budget, a circuit breaker per stage, and a degraded fallback answer for /predict.

Timeouts and the per-stage connection limit (a bulkhead) belong to the stage client
(microservices/hops.py); with every switch off the gateway calls its stages as plainly as it can.

- Retries (tenacity): a call that found its stage unavailable (refused, reset) or failing (5xx) is
  tried again, up to `retries` more times after 5-20 ms, while the retry budget lasts: each call
  earns `retry_budget` of a retry and at most 10 are banked, so when a stage is down retries stay
  near that share of the calls instead of multiplying them. A timeout is not retried: the stage
  is slow, and more calls would only slow it further.
- Breaker (circuitbreaker): after `breaker_failures` failed calls in a row to a stage, calls to it
  fail at once with CircuitOpen (503) for `breaker_reset_s`; then calls go through again, and the
  first success closes the circuit while the first failure opens it again.
- Fallback: when a model stage (features, score) cannot answer a /predict whose records passed
  validation, the gateway answers 203 Non-Authoritative Information with the training data's most
  frequent class and its share for every record, `"degraded": true` and a model version ending in
  `+prior`. A client that accepts any 2xx gets an answer; one that wants the model's (200, as the
  load generator does) sees that it did not get it, so degraded answers are never counted as
  plain successes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec
from circuitbreaker import CircuitBreaker
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_random

from microservices.hops import Hop
from pipeline.records import FeatureBatch, Prediction, Predictions, ValidBatch
from pipeline.stages import STAGE_NAMES, Stage
from serving.asgi import Reply
from serving.errors import CircuitOpen, StageError, StageFailed, StageUnavailable
from serving.settings import Settings

DEGRADED_STATUS = 203
MAX_BANKED_RETRIES = 10.0
_encode = msgspec.json.Encoder().encode


class Caller(Protocol):
    async def call(self, stage: Stage, payload: bytes) -> Hop: ...


class RetryBudget:
    """Retries as a bounded share of calls: a token bucket filled by calls, emptied by retries."""

    def __init__(self, share: float, banked: float = MAX_BANKED_RETRIES) -> None:
        self.share, self.cap, self.balance = share, banked, banked

    def earn(self) -> None:
        self.balance = min(self.cap, self.balance + self.share)

    def spend(self) -> bool:
        if self.balance < 1 - 1e-9:  # five calls at 0.2 make one retry, rounding aside
            return False
        self.balance -= 1
        return True


class Guarded:
    """A stage caller with the retries and breakers the settings switch on."""

    def __init__(self, client: Caller, settings: Settings) -> None:
        self.client = client
        self.retries = settings.retries
        self.budget = RetryBudget(settings.retry_budget)
        self.reset_s = settings.breaker_reset_s
        self.breakers: dict[str, CircuitBreaker] = {}
        if settings.breaker:
            for name in STAGE_NAMES:
                self.breakers[name] = CircuitBreaker(
                    failure_threshold=settings.breaker_failures,
                    recovery_timeout=settings.breaker_reset_s,
                    expected_exception=StageError,
                    name=f"gateway-{name}",
                )

    async def call(self, stage: Stage, payload: bytes) -> Hop:
        if not self.retries:
            return await self._attempt(stage, payload)
        self.budget.earn()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_random(0.005, 0.02),
            retry=self._retry,
            reraise=True,
        )
        hop: Hop = await retrying(self._attempt, stage, payload)
        return hop

    def _retry(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        return (
            isinstance(error, StageUnavailable | StageFailed)
            and not isinstance(error, CircuitOpen)
            and state.attempt_number <= self.retries
            and self.budget.spend()
        )

    async def _attempt(self, stage: Stage, payload: bytes) -> Hop:
        breaker = self.breakers.get(stage.name)
        if breaker is None:
            return await self.client.call(stage, payload)
        if breaker.opened:
            raise CircuitOpen(
                f"stage {stage.name!r} failed {breaker.failure_count} times in a row; calls to "
                f"it fail at once for {self.reset_s:g} s",
                stage.name,
            )
        hop: Hop = await breaker.call_async(self.client.call, stage, payload)
        return hop

    def states(self) -> dict[str, str]:
        """Each stage's circuit: closed, open or half_open."""
        return {name: str(breaker.state) for name, breaker in self.breakers.items()}


class Fallback:
    """The degraded /predict answer without the model: the bundle's fallback (the most frequent
    class with its share, or a regressor's mean; pipeline.bundler.fallback)."""

    def __init__(self, metadata: Mapping[str, Any]) -> None:
        self.prediction = Prediction(**metadata["fallback"])
        self.version = f"{metadata.get('version', 'unknown')}+prior"

    def reply(self, stage: Stage, payload: bytes, timings: list[tuple[str, float]]) -> Reply:
        """Answer for the records in `payload`, the input the failed model stage did not take."""
        value: Any = msgspec.json.decode(payload, type=stage.input_type or ValidBatch)
        assert isinstance(value, ValidBatch | FeatureBatch)
        count = len(value.rows) if isinstance(value, ValidBatch) else len(value.matrix)
        predictions = [self.prediction] * count
        body = _encode(Predictions(predictions, self.version, degraded=True))
        return Reply(body, DEGRADED_STATUS, timings)
