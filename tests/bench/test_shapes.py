"""Load schedules are pure functions of time: checked without sleeping."""

from __future__ import annotations

import random

import pytest

from bench.load import shapes
from bench.load.shapes import Ramp, Schedule, Step


def test_poisson_arrivals_follow_each_steps_rate() -> None:
    schedule = shapes.spike(rate=100, multiple=4, before_s=20, spike_s=20, after_s=20, warmup_s=0)
    times = list(shapes.arrivals(schedule, seed=3))
    assert times == sorted(times) and times[0] > 0 and times[-1] < schedule.duration_s
    per_step = [sum(1 for t in times if s.start_s <= t < s.end_s) for s in schedule.steps]
    assert per_step[0] == pytest.approx(2000, rel=0.06)
    assert per_step[1] == pytest.approx(8000, rel=0.06)
    assert per_step[2] == pytest.approx(2000, rel=0.06)
    # exponential gaps: their standard deviation equals their mean
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b < 20]
    mean = sum(gaps) / len(gaps)
    sd = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
    assert mean == pytest.approx(0.01, rel=0.06) and sd == pytest.approx(mean, rel=0.1)


def test_arrivals_replay_under_a_seed() -> None:
    schedule = shapes.steady(50, 5, 1)
    assert list(shapes.arrivals(schedule, 1)) == list(shapes.arrivals(schedule, 1))
    assert list(shapes.arrivals(schedule, 1)) != list(shapes.arrivals(schedule, 2))


def test_steady_includes_its_warmup() -> None:
    schedule = shapes.steady(rate=40, duration_s=10, warmup_s=2)
    assert schedule.duration_s == 12 and schedule.warmup_s == 2
    assert schedule.rate_at(0) == schedule.rate_at(11.9) == 40 and schedule.rate_at(12) == 0
    assert schedule.expected(2, 12) == pytest.approx(400)


def test_a_schedule_built_step_by_step_replays_its_arrivals() -> None:
    # the capacity search draws each trial's arrivals from one generator as it goes
    steps = (Step(0, 2, 100), Step(2, 1, 0), Step(3, 2, 300))
    rng = random.Random(4)
    live = [t for step in steps for t in shapes.step_arrivals(step, rng)]
    assert live == list(shapes.arrivals(Schedule(steps), 4))
    assert not any(2 <= t < 3 for t in live)


def test_spike_returns_to_the_base_rate() -> None:
    schedule = shapes.spike(10, 3, 4, 2, 4, 1)
    assert [s.rate for s in schedule.steps] == [10, 30, 10]
    assert schedule.rate_at(5.5) == 30 and schedule.rate_at(7.5) == 10
    assert schedule.steps[0] == Step(0, 5, 10)


def test_ramp_adds_users_then_holds_then_ends() -> None:
    ramp = Ramp(users=8, spawn_rate=2, hold_s=3)
    assert [ramp.users_at(t) for t in (0, 0.6, 1.5, 3.6, 5, 6.9)] == [1, 2, 4, 8, 8, 8]
    assert ramp.users_at(7) is None
