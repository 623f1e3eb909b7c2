"""HDR histogram queries (mean, percentiles) over the counts array at once, with numpy.

hdrh's own `get_mean_value` and percentile loops step through up to 20,480 buckets in Python per
call: about 0.1 s each, and a run's analysis asks thousands of times (every trial, every
one-second window). These give the same values by hdrh's own definitions: a bucket's value is
its highest equivalent value for a percentile, its lowest for the 0th, and its median
equivalent value for the mean. `tests/bench/test_hdr.py` holds them to hdrh's results.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
from hdrh.histogram import HdrHistogram


@functools.cache
def _values(
    counts_len: int, unit_magnitude: int, half_magnitude: int, sub_bucket_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per counts index: the lowest, highest and median equivalent values (one layout, cached)."""
    index = np.arange(counts_len, dtype=np.int64)
    half = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub = (index & (half - 1)) + half
    first = bucket < 0
    sub = np.where(first, sub - half, sub)
    bucket = np.where(first, 0, bucket)
    lowest = sub << (bucket + unit_magnitude)
    # hdrh's size of the equivalent range: one bucket up where the sub-bucket overflows
    size = np.left_shift(1, unit_magnitude + bucket + (sub >= sub_bucket_count))
    return lowest, lowest + size - 1, lowest + (size >> 1)


def _layout(hist: HdrHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _values(
        hist.counts_len, hist.unit_magnitude, hist.sub_bucket_half_count_magnitude,
        hist.sub_bucket_count,
    )  # fmt: skip


def _counts(hist: HdrHistogram) -> np.ndarray:
    return np.ctypeslib.as_array(hist.counts)[: hist.counts_len].astype(np.int64)


def mean(hist: HdrHistogram) -> float:
    """hdrh's `get_mean_value`: the count-weighted median equivalent value."""
    total = hist.get_total_count()
    if not total:
        return 0.0
    median = _layout(hist)[2]
    return float(np.dot(_counts(hist), median)) / total


def percentiles(hist: HdrHistogram, wanted: Iterable[float]) -> dict[float, int]:
    """hdrh's `get_value_at_percentile` for each of `wanted` (0 for an empty histogram)."""
    wanted = list(wanted)
    total = hist.get_total_count()
    if not total:
        return {p: 0 for p in wanted}
    lowest, highest, _ = _layout(hist)
    cumulative = np.cumsum(_counts(hist))
    out: dict[float, int] = {}
    for p in wanted:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        index = int(np.searchsorted(cumulative, target, side="left"))
        if index >= len(cumulative):  # as hdrh: a count it does not hold
            out[p] = 0
        else:
            out[p] = int(highest[index] if p else lowest[index])
    return out


def percentile(hist: HdrHistogram, p: float) -> int:
    return percentiles(hist, [p])[p]
