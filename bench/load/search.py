"""The capacity search: which rate to offer next, from the trials so far, and what they say.

Pure functions of the trial list, so the Locust process that drives the search and the analysis
that re-reads its raw record reach the same answer, and the search is tested without a stack.

The search brackets the knee, bisects the bracket (geometrically) until it is within
`tolerance`, and confirms both ends with a second trial. A rate tried more than once is judged
by majority; a tie is tried again. A pass above a fail contradicts a monotone knee: one of them
was noise, so the less certain of the two is tried again rather than either being believed. A
search that never failed reports a lower bound, one that never passed an upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

# The p99 of a trial rests on at least this many requests where the trial's length allows: the
# 10 slowest then lie above it, so one stray request moves it by one rank, not to the maximum.
MIN_REQUESTS = 1000

Bound = Literal["exact", "lower", "upper", "none"]


@dataclass(frozen=True)
class SearchConfig:
    """How the search steps, when it stops, and how long each trial lasts."""

    slo_ms: float
    max_error: float = 0.01
    tolerance: float = 0.05  # stop when the bracket's high end is within 5% of its low end
    start_fraction: float = 0.8  # of the closed-loop probe's throughput
    growth: float = 1.25  # upward step while no trial has failed
    # downward step while no trial has passed: gentle at first (the probe is usually near the
    # knee, and a first fail is often the probe's own noise), then halving (a heavy model's SLO
    # can bind far below the saturation throughput)
    first_shrink: float = 1.25
    shrink: float = 2.0
    max_trials: int = 10
    min_requests: int = MIN_REQUESTS
    min_trial_s: float = 2.0
    max_trial_s: float = 6.0
    min_rate: float = 1.0
    max_rate: float = 100_000.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Trial:
    """One open-loop trial at a constant offered rate, judged on intended-time p99 and errors."""

    rate: float
    requests: int
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    error_rate: float
    passed: bool


def judge(p99_ms: float, error_rate: float, config: SearchConfig) -> bool:
    return p99_ms <= config.slo_ms and error_rate < config.max_error


def trial_seconds(rate: float, config: SearchConfig) -> float:
    """Whole seconds long enough for `min_requests` at `rate`, within the trial's bounds."""
    wanted = math.ceil(config.min_requests / max(rate, 1e-9))
    return float(min(config.max_trial_s, max(config.min_trial_s, wanted)))


def votes(trials: Sequence[Trial]) -> dict[float, int]:
    """Per rate tried: passes minus fails."""
    out: dict[float, int] = {}
    for t in trials:
        out[t.rate] = out.get(t.rate, 0) + (1 if t.passed else -1)
    return out


def _bracket(margin: dict[float, int]) -> tuple[float | None, float | None]:
    """(highest rate judged passing, lowest rate judged failing above it)."""
    passing = [r for r, m in margin.items() if m > 0]
    low = max(passing) if passing else None
    failing = [r for r, m in margin.items() if m < 0 and (low is None or r > low)]
    return low, (min(failing) if failing else None)


def _contested(margin: dict[float, int]) -> list[float]:
    """Rates whose verdict contradicts a monotone knee or is undecided, least certain first."""
    ties = [r for r, m in margin.items() if m == 0]
    inverted = [
        r
        for r, m in margin.items()
        if (m < 0 and any(p > r and n > 0 for p, n in margin.items()))
        or (m > 0 and any(f < r and n < 0 for f, n in margin.items()))
    ]
    # a fail is retried before an equally certain pass: a transient more often fails a trial
    return sorted({*ties, *inverted}, key=lambda r: (abs(margin[r]), margin[r] > 0, r))


def next_rate(trials: Sequence[Trial], estimate: float, config: SearchConfig) -> float | None:
    """The rate of the next trial, or None when the search is done."""
    if not trials:
        return _clamp(estimate * config.start_fraction, config)
    if len(trials) >= config.max_trials:
        return None
    margin = votes(trials)
    contested = _contested(margin)
    if contested:
        return contested[0]
    low, high = _bracket(margin)
    if high is None:
        assert low is not None
        nxt = low * config.growth
        return None if low >= config.max_rate else _clamp(nxt, config)
    if low is None:
        shrink = config.first_shrink if len(trials) == 1 else config.shrink
        return None if high <= config.min_rate else _clamp(high / shrink, config)
    if high / low - 1 > config.tolerance:
        return math.sqrt(low * high)
    for end, certain in ((low, margin[low] >= 2), (high, margin[high] <= -2)):
        if not certain:
            return end
    return None


def run(
    trial_at: Callable[[float], Trial], estimate: float, config: SearchConfig, trials: list[Trial]
) -> list[Trial]:
    """The search itself: a trial at each rate `next_rate` chooses until it is done.

    `trial_at(rate)` runs one open-loop trial and judges it: in one Locust process, or split
    across Locust workers (bench.load.distributed_search). `trials` grows as each one ends, so a
    run stopped part-way still has the trials it finished."""
    while (rate := next_rate(trials, estimate, config)) is not None:
        trials.append(trial_at(rate))
    return trials


def _clamp(rate: float, config: SearchConfig) -> float:
    return round(min(config.max_rate, max(config.min_rate, rate)), 3)


@dataclass(frozen=True)
class Outcome:
    """What a finished (or cut-short) search says: the capacity and its bracket.

    `capacity_rps` is the bracket's low end (the highest rate judged passing), None when no rate
    passed. `bound` says how to read it: `exact` (bracketed), `lower` (nothing failed: the
    capacity is at least `low_rps`), `upper` (nothing passed: below `high_rps`), `none` (no
    trial). `converged` when the bracket is within the tolerance; `noisy` when some rate was
    judged both ways or a pass stood above a fail.
    """

    capacity_rps: float | None
    low_rps: float | None
    high_rps: float | None
    bound: Bound
    converged: bool
    confirmed: bool
    noisy: bool
    trials: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def outcome(trials: Sequence[Trial], config: SearchConfig) -> Outcome:
    """The search's answer from its trials (the last word on any rate is the majority's)."""
    if not trials:
        return Outcome(None, None, None, "none", False, False, False, 0)
    margin = votes(trials)
    low, high = _bracket(margin)
    bound: Bound = "exact" if low and high else "lower" if low else "upper" if high else "none"
    converged = bool(low and high and high / low - 1 <= config.tolerance)
    confirmed = bool(low and margin[low] >= 2)
    mixed = {t.rate for t in trials if t.passed} & {t.rate for t in trials if not t.passed}
    noisy = bool(mixed) or bool(_contested(margin))
    return Outcome(low, low, high, bound, converged, confirmed, noisy, len(trials))


def format_capacity(value: float | None, bound: str | None, digits: int = 0) -> str:
    """'≥ 620' for a lower bound, '< 40' for an upper one, the figure when bracketed."""
    if bound == "lower" and value is not None:
        return f"≥ {value:.{digits}f}"
    if value is None:
        return "–"
    return f"{value:.{digits}f}"
