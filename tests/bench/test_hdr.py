"""The numpy histogram queries give hdrh's own mean and percentiles, bucket for bucket."""

from __future__ import annotations

import random

import pytest

from bench.measure import hdr, latency

SPECTRUM = [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0, 150.0]


@pytest.mark.parametrize("seed", range(6))
def test_mean_and_percentiles_equal_hdrh(seed: int) -> None:
    rng = random.Random(seed)
    hist = latency.histogram()
    # microseconds across the ranges that matter: sub-ms hops, tens of ms, a timeout tail
    for _ in range(rng.randrange(1, 5000)):
        value = int(rng.lognormvariate(rng.choice([6.0, 9.0, 12.0]), 1.2))
        hist.record_value(min(latency.HIGHEST_US, max(latency.LOWEST_US, value)))
    assert hdr.mean(hist) == pytest.approx(hist.get_mean_value(), rel=1e-12)
    got = hdr.percentiles(hist, SPECTRUM)
    assert got == {p: hist.get_value_at_percentile(p) for p in SPECTRUM}


def test_a_merged_and_a_decoded_histogram_answer_alike() -> None:
    first, second = latency.histogram(), latency.histogram()
    for v in (900, 1_100, 45_000):
        first.record_value(v)
    second.record_value(250_000_000, 3)
    first.add(second)
    decoded = latency.decode(first.encode().decode())
    for hist in (first, decoded):
        assert hdr.mean(hist) == pytest.approx(hist.get_mean_value(), rel=1e-12)
        assert hdr.percentile(hist, 99.0) == hist.get_value_at_percentile(99.0)


def test_an_empty_histogram_is_zero() -> None:
    empty = latency.histogram()
    assert hdr.mean(empty) == 0.0
    assert hdr.percentiles(empty, [50.0, 99.0]) == {50.0: 0, 99.0: 0}
