"""Figures derived from constructed latency records: percentiles, capacity, validity, spread."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analyse import runs as analysis
from bench.load import shapes
from bench.load.shapes import Schedule
from bench.measure.latency import Recorder

SEED = 5


def run(
    schedule: Schedule,
    latency_s: Any,
    *,
    keep: float = 1.0,
    late_s: float = 0.0,
    fail_every: int = 0,
    cpu_share: float = 0.2,
) -> dict[str, Any]:
    """A record as the Locust process would write it, with latencies from `latency_s(t)`."""
    recorder = Recorder()
    recorder.reset(1000.0, schedule.warmup_s)
    offsets = list(shapes.arrivals(schedule, SEED))
    kept = offsets[: int(len(offsets) * keep)]
    for i, t in enumerate(kept):
        intended = 1000.0 + t
        sent = intended + late_s
        ok = not (fail_every and i % fail_every == 0)
        status = 200 if ok else 503
        recorder.record("predict", intended, sent, sent + latency_s(t), status, ok)
    measured_s = schedule.duration_s - schedule.warmup_s
    return recorder.to_json(
        scenario="capacity" if len(schedule.steps) > 2 else "steady",
        schedule=schedule.to_json(),
        payload_seed=SEED,
        generator_cpu_s=cpu_share * measured_s,
        measured_wall_s=measured_s,
        completed=True,
    )


def test_warmup_is_excluded_and_percentiles_are_exact() -> None:
    schedule = shapes.steady(rate=100, duration_s=10, warmup_s=2)
    record = run(schedule, lambda t: 0.5 if t < 2 else (0.0042 if int(t * 100) % 10 else 0.0173))
    measured = analysis.window(record, analysis.measured_bins(record))["all"]
    assert measured["intended_ms"]["max"] == pytest.approx(17.3, abs=0.02)  # no 500 ms warm-up
    assert measured["intended_ms"]["p50"] == pytest.approx(4.2, abs=0.01)
    assert measured["intended_ms"]["p99"] == pytest.approx(17.3, abs=0.02)
    assert measured["throughput_rps"] == pytest.approx(100, rel=0.08)
    assert measured["sent"] == sum(1 for t in shapes.arrivals(schedule, SEED) if t >= 2)


def test_intended_latency_includes_the_send_delay_service_latency_does_not() -> None:
    schedule = shapes.steady(rate=50, duration_s=4, warmup_s=0)
    record = run(schedule, lambda t: 0.002, late_s=0.030)
    measured = analysis.window(record, analysis.measured_bins(record))["all"]
    assert measured["service_ms"]["p50"] == pytest.approx(2.0, abs=0.01)
    assert measured["intended_ms"]["p50"] == pytest.approx(32.0, abs=0.05)


def capacity_record(latencies: dict[float, float], fail_every: int = 0) -> dict[str, Any]:
    schedule = shapes.capacity(100, step_s=4, warmup_s=1, fractions=tuple(latencies))
    by_rate = {100 * f: s for f, s in latencies.items()}
    return run(schedule, lambda t: by_rate[schedule.rate_at(t)], fail_every=fail_every)


def test_capacity_is_the_highest_rate_within_the_slo() -> None:
    record = capacity_record({0.5: 0.010, 1.0: 0.060, 1.5: 0.300})
    steps = analysis.capacity_steps(record, slo_ms=100)
    assert [(s.rate, s.passed) for s in steps] == [(50, True), (100, True), (150, False)]
    assert analysis.capacity(steps) == 100
    # a tighter SLO moves the capacity down
    assert analysis.capacity(analysis.capacity_steps(record, slo_ms=50)) == 50
    assert analysis.capacity(analysis.capacity_steps(record, slo_ms=5)) is None


def test_errors_over_one_percent_fail_a_step() -> None:
    record = capacity_record({0.5: 0.010, 1.0: 0.010}, fail_every=20)
    assert analysis.capacity(analysis.capacity_steps(record, slo_ms=100)) is None


def test_a_valid_run_is_valid() -> None:
    verdict = analysis.validity(run(shapes.steady(100, 5, 1), lambda t: 0.003))
    assert verdict.valid and verdict.reasons == []


def test_a_measured_part_of_no_whole_number_of_bins_is_judged_on_whole_bins() -> None:
    # 4.5 s measured: the last half second is in no whole bin, for the schedule as for the sends
    schedule = shapes.steady(100, 4.5, 1)
    verdict = analysis.validity(run(schedule, lambda t: 0.003))
    assert verdict.valid and verdict.scheduled_rps == verdict.achieved_rps
    short = analysis.validity(run(schedule, lambda t: 0.003, keep=0.8))
    assert any("short of the scheduled" in r for r in short.reasons), short.reasons


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"cpu_share": 0.95}, "load generator CPU at 95%"),
        ({"keep": 0.9}, "short of the scheduled"),
        ({"late_s": 0.05}, "schedule slipped"),
    ],
)
def test_each_validity_check_fires(kwargs: dict[str, Any], reason: str) -> None:
    verdict = analysis.validity(run(shapes.steady(100, 5, 1), lambda t: 0.003, **kwargs))
    assert not verdict.valid
    assert any(reason in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(
    ("key", "share", "reason"),
    [
        ("sut_foreign_share", 0.08, "other work used 8% of the system-under-test CPU"),
        ("generator_foreign_share", 0.2, "other work used 20% of the load generator's CPU"),
    ],
)
def test_other_work_on_either_cpu_makes_a_run_invalid(key: str, share: float, reason: str) -> None:
    record = run(shapes.steady(100, 5, 1), lambda t: 0.003)
    assert analysis.validity(record, {key: share / 2}).valid
    verdict = analysis.validity(record, {key: share})
    assert not verdict.valid and any(reason in r for r in verdict.reasons), verdict.reasons


def test_an_incomplete_run_is_invalid() -> None:
    record = run(shapes.steady(100, 5, 1), lambda t: 0.003)
    record["completed"] = False
    assert "the scenario did not complete" in analysis.validity(record).reasons


def test_spread_over_repetitions() -> None:
    assert analysis.spread([3.0, 1.0, None, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert analysis.spread([None])["median"] is None


def test_spike_recovery_is_measured_from_the_spikes_end() -> None:
    schedule = shapes.spike(rate=50, multiple=4, before_s=4, spike_s=3, after_s=6, warmup_s=1)

    def latency_s(t: float) -> float:
        if 5 <= t < 8:
            return 0.200  # overloaded during the spike
        if 8 <= t < 10:
            return 0.080  # draining the queue
        return 0.004

    record = run(schedule, latency_s)
    record["scenario"] = "spike"
    recovery = analysis.summarize(record, 100)["recovery"]
    assert recovery["baseline_p99_ms"] == pytest.approx(4.0, abs=0.01)
    assert recovery["spike_p99_ms"] == pytest.approx(200, rel=0.01)
    assert recovery["recovered_after_s"] == 2.0


def test_time_blocked_by_the_in_flight_bound_is_not_the_generators_shortfall() -> None:
    record = run(shapes.steady(100, 5, 1), lambda t: 0.003)
    record["measured_wall_s"] += 3.0  # the schedule ran 3 s late ...
    assert not analysis.validity(record).valid
    record["blocked_s"] = 3.0  # ... because the server held every in-flight slot
    assert analysis.validity(record).valid


def test_the_capacity_row_reports_the_step_at_capacity() -> None:
    summaries = {}
    for rep, slow in enumerate((0.060, 0.300, 0.070)):
        record = capacity_record({0.5: 0.010, 1.0: slow, 1.5: 0.400})
        summaries[f"capacity/micro/rep{rep}"] = analysis.summarize(record, 100)
    row = analysis.aggregate(summaries, ["micro"], ["capacity"])["micro"]["capacity"]
    assert row["runs"] == 3 and row["invalid_runs"] == 0
    assert row["capacity_rps"] == {"median": 100, "min": 50, "max": 100, "n": 3}
    # latency at capacity: 70 ms (rep 2), 10 ms (rep 1 only passed its 50 req/s step), 60 ms
    assert row["p99_ms"]["median"] == pytest.approx(60, abs=0.1)
    assert row["p99_ms"]["min"] == pytest.approx(10, abs=0.02)
    assert not summaries["capacity/micro/rep0"]["capacity_noisy"]


def test_a_failing_step_below_the_capacity_is_flagged_as_noise() -> None:
    record = capacity_record({0.5: 0.300, 1.0: 0.010})
    summary = analysis.summarize(record, 100)
    assert summary["capacity_rps"] == 100 and summary["capacity_noisy"]
