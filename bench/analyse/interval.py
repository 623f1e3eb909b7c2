"""Intervals over repetitions: a median with its bootstrap interval, and a paired ratio's.

Percentile bootstrap (scipy.stats.bootstrap) with a fixed seed, so the same data always give the
same interval. With fewer than three values a bootstrap says nothing useful: the interval is then
the values' own range, which is what a reader would make of them anyway.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95
# Enough resamples that the interval's ends move by well under a per cent between seeds.
RESAMPLES = 2000
MIN_BOOTSTRAP = 3


def median_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float, float] | None:
    """(median, low, high) of the values' median; None for no values.

    With fewer than MIN_BOOTSTRAP values, or all of them equal, the interval is their range.
    Deterministic for a given seed and set of values (their order does not matter).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    data = sorted(float(v) for v in values)
    if any(math.isnan(v) for v in data):
        raise ValueError("a value is NaN")
    if not data:
        return None
    median = statistics.median(data)
    low, high = data[0], data[-1]
    if len(data) < MIN_BOOTSTRAP or low == high:
        return median, low, high
    # Imported here: scipy.stats takes most of a second to import, and every command line
    # (its parser reads this room's names) and harness would pay it without bootstrapping.
    from scipy import stats

    result = stats.bootstrap(
        (np.asarray(data),),
        np.median,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return median, float(interval.low), float(interval.high)


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per pair numerator / denominator; a pair whose denominator is 0 has no ratio."""
    if len(numerators) != len(denominators):
        raise ValueError(
            f"{len(numerators)} numerators but {len(denominators)} denominators: ratios need pairs"
        )
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d != 0]


def ratio_interval(
    numerators: Sequence[float],
    denominators: Sequence[float],
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float] | None:
    """(median, low, high) of the per-pair ratios' median: the pairs were measured side by side,
    so each ratio is free of the drift between pairs (a ratio of medians is not). None without
    a pair."""
    return median_interval(ratios(numerators, denominators), confidence, seed)
