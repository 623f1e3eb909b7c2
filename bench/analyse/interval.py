"""Intervals over repetitions: a median with its bootstrap interval, and a paired ratio's.

Percentile bootstrap (scipy.stats.bootstrap) with a fixed seed, so the same data always give the
same interval. With fewer than three values a bootstrap says nothing useful: the interval is then
the values' own range, which is what a reader would make of them anyway.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000


def median_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float, float] | None:
    """(median, low, high) of the values' median; None for no values."""
    data = [float(v) for v in values]
    if not data:
        return None
    median = statistics.median(data)
    if len(data) < 3 or min(data) == max(data):
        return median, min(data), max(data)
    result = stats.bootstrap(
        (np.asarray(data),),
        np.median,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return median, float(low), float(high)


def ratio_interval(
    numerators: Sequence[float],
    denominators: Sequence[float],
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float] | None:
    """(median, low, high) of the per-pair ratios' median: the pairs were measured side by side,
    so each ratio is free of the drift between pairs. None without a pair."""
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True) if d]
    return median_interval(ratios, confidence, seed)
