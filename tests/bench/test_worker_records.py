"""The workers' share of a schedule and the exact merge of their records, judged per worker and
for the whole: pure functions of constructed records (tests/bench/test_workers.py runs Locust)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analyse import runs as analysis
from bench.load import shapes
from bench.load.distributed_records import merge, worker_rate, worker_seed
from bench.measure.latency import Recorder

SEED, RATE, WORKERS = 4, 120.0, 2


def worker_record(index: int, latency_s: float, cpu_share: float = 0.2, late_s: float = 0.0):
    """Worker `index`'s record of its share of a 5 s steady schedule, as it would send it."""
    schedule = shapes.steady(worker_rate(RATE, WORKERS), 5, 1)
    seed = worker_seed(SEED, index)
    recorder = Recorder()
    recorder.reset(1000.0, schedule.warmup_s)
    for t in shapes.arrivals(schedule, seed):
        sent = 1000.0 + t + late_s
        recorder.record("predict", 1000.0 + t, sent, sent + latency_s, 200, True)
    return recorder.to_json(
        scenario="steady",
        schedule=schedule.to_json(),
        generator_cpu_s=cpu_share * 5,
        measured_wall_s=5.0,
        measured_unix=[2000.0 + index, 2005.0 + index],
        blocked_s=0.0,
        completed=True,
        payload_seed=seed,
        worker_index=index,
    )


def two_workers(**second: Any) -> dict[str, Any]:
    return merge([worker_record(0, 0.004), worker_record(1, 0.040, **second)], WORKERS, SEED)


def test_counts_sum_and_percentiles_come_from_the_added_histograms() -> None:
    records = [worker_record(0, 0.004), worker_record(1, 0.040)]
    merged = merge(records, WORKERS, SEED)
    assert sum(c["sent"] for c in merged["counts"]) == sum(
        c["sent"] for r in records for c in r["counts"]
    )
    everything = analysis.window(merged, analysis.measured_bins(merged))["all"]["intended_ms"]
    fast = sum(c["sent"] for c in records[0]["counts"] if c["bin"] >= 1)
    slow = sum(c["sent"] for c in records[1]["counts"] if c["bin"] >= 1)
    # the pooled median is the fast worker's latency when it sent most requests, else the
    # slow one's; an average of the workers' medians (22 ms) is neither
    assert everything["p50"] == pytest.approx(4.0 if fast > slow else 40.0, rel=1e-3)
    assert everything["p99"] == pytest.approx(40.0, rel=1e-3)
    assert merged["schedule"]["steps"][0]["rate"] == RATE
    verdict = analysis.validity(merged)
    assert verdict.valid, verdict.reasons
    assert verdict.scheduled_rps == verdict.achieved_rps


def test_workers_run_independent_streams_at_their_share_of_the_rate() -> None:
    assert worker_rate(RATE, 4) == RATE / 4
    assert len({worker_seed(SEED, i) for i in range(8)} | {worker_seed(SEED + 1, 0)}) == 9


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ({"cpu_share": 0.95}, "worker 1: load generator CPU at 95% of its core"),
        ({"late_s": 0.05}, "worker 1: schedule slipped"),
    ],
)
def test_one_saturated_worker_invalidates_the_run(second: dict[str, Any], reason: str) -> None:
    verdict = analysis.validity(two_workers(**second))
    assert not verdict.valid
    assert any(r.startswith(reason) for r in verdict.reasons), verdict.reasons


def test_a_worker_that_sent_no_record_invalidates_the_run() -> None:
    merged = merge([worker_record(0, 0.004)], WORKERS, SEED)
    verdict = analysis.validity(merged)
    assert "worker 1 sent no record (stopped, lost or cut short)" in verdict.reasons
    assert "the scenario did not complete" in verdict.reasons
    # the whole was scheduled at the full rate: it is short by the missing worker's half
    assert verdict.achieved_rps is not None and verdict.scheduled_rps is not None
    assert verdict.achieved_rps == pytest.approx(verdict.scheduled_rps / 2, rel=0.25)
