"""Load schedules as pure functions of time: open-loop rate steps, Poisson arrivals, ramps.

A schedule is a list of constant-rate steps; the first `warmup_s` seconds are driven like the rest
but excluded from every figure. Arrivals are a Poisson process (exponential gaps) whose rate is
the step's rate, drawn from a seeded generator so that a run can be replayed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

OPEN_LOOP = ("capacity", "steady", "spike")
CLOSED_LOOP = ("ramp",)
SCENARIOS = (*OPEN_LOOP, *CLOSED_LOOP)


@dataclass(frozen=True)
class Step:
    """Requests at a constant mean rate from `start_s` for `duration_s` seconds."""

    start_s: float
    duration_s: float
    rate: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Schedule:
    """An open-loop schedule: consecutive steps, the first `warmup_s` seconds not measured."""

    steps: tuple[Step, ...]
    warmup_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.steps[-1].end_s if self.steps else 0.0

    def rate_at(self, t: float) -> float:
        """Scheduled rate at offset t (0 outside the schedule)."""
        for step in self.steps:
            if step.start_s <= t < step.end_s:
                return step.rate
        return 0.0

    def expected(self, start_s: float, end_s: float) -> float:
        """Expected number of arrivals between two offsets."""
        total = 0.0
        for step in self.steps:
            overlap = min(end_s, step.end_s) - max(start_s, step.start_s)
            if overlap > 0:
                total += overlap * step.rate
        return total

    def to_json(self) -> dict[str, object]:
        return {"warmup_s": self.warmup_s, "steps": [vars(s) for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Schedule:
        steps = data["steps"]
        assert isinstance(steps, list)
        return cls(tuple(Step(**s) for s in steps), float(data["warmup_s"]))  # type: ignore[arg-type]


def arrivals(schedule: Schedule, seed: int) -> Iterator[float]:
    """Poisson arrival offsets (seconds from the schedule's start), in order."""
    rng = random.Random(seed)
    for step in schedule.steps:
        yield from step_arrivals(step, rng)


def step_arrivals(step: Step, rng: random.Random) -> Iterator[float]:
    """One step's Poisson arrival offsets, drawn from `rng`: a schedule built step by step (the
    capacity search) draws from one generator as `arrivals` does, so its arrivals replay."""
    if step.rate <= 0:
        return
    t = step.start_s
    while True:
        t += rng.expovariate(step.rate)
        if t >= step.end_s:
            return
        yield t


def steady(rate: float, duration_s: float, warmup_s: float) -> Schedule:
    """One rate for the whole run (warm-up included)."""
    return Schedule((Step(0.0, warmup_s + duration_s, rate),), warmup_s)


def spike(
    rate: float, multiple: float, before_s: float, spike_s: float, after_s: float, warmup_s: float
) -> Schedule:
    """Steady, then `multiple` times the rate, then steady again to watch recovery."""
    first = Step(0.0, warmup_s + before_s, rate)
    burst = Step(first.end_s, spike_s, rate * multiple)
    return Schedule((first, burst, Step(burst.end_s, after_s, rate)), warmup_s)


@dataclass(frozen=True)
class Ramp:
    """Closed-loop users added at `spawn_rate` per second up to `users`, then held."""

    users: int
    spawn_rate: float
    hold_s: float

    @property
    def duration_s(self) -> float:
        return math.ceil(self.users / self.spawn_rate) + self.hold_s

    def users_at(self, t: float) -> int | None:
        """Target user count at offset t; None once the ramp is over."""
        if t >= self.duration_s:
            return None
        return min(self.users, 1 + int(t * self.spawn_rate))
