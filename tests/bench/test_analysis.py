"""Figures derived from constructed latency records: percentiles, capacity, validity, spread."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analyse import capacity
from bench.analyse import runs as analysis
from bench.load import shapes
from bench.load.shapes import Schedule
from bench.measure import calibration
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


def capacity_record(
    trials: list[tuple[float, float]], fail_every: int = 0, warmup_s: float = 1.0
) -> dict[str, Any]:
    """A capacity search's record: a warm-up, then (rate, latency) trials of 4 s, each after a
    1-s pause for the queue to drain, as bench.load.users runs them."""
    steps = [shapes.Step(0.0, warmup_s, trials[0][0])]
    latency_at = [(0.0, warmup_s, 0.005)]
    t = warmup_s
    for rate, seconds in trials:
        steps += [shapes.Step(t, 1.0, 0.0), shapes.Step(t + 1.0, 4.0, rate)]
        latency_at.append((t + 1.0, t + 5.0, seconds))
        t += 5.0
    schedule = Schedule(tuple(steps), warmup_s)

    def latency(at: float) -> float:
        return next(s for start, end, s in latency_at if start <= at < end)

    return run(schedule, latency, fail_every=fail_every)


def test_capacity_is_the_highest_rate_within_the_slo() -> None:
    record = capacity_record([(50, 0.010), (100, 0.060), (150, 0.300)])
    steps = capacity.trials(record, slo_ms=100)
    assert [(s.rate, s.passed) for s in steps] == [(50, True), (100, True), (150, False)]
    summary = capacity.summarize(record, slo_ms=100)
    assert summary["capacity_rps"] == 100 and summary["capacity_bound"] == "exact"
    assert (summary["capacity_low_rps"], summary["capacity_high_rps"]) == (100, 150)
    # a tighter SLO moves the capacity down; one no trial meets is an upper bound
    assert capacity.summarize(record, slo_ms=50)["capacity_rps"] == 50
    tight = capacity.summarize(record, slo_ms=5)
    assert tight["capacity_rps"] is None and tight["capacity_bound"] == "upper"
    assert tight["capacity_high_rps"] == 50


def test_a_search_that_never_failed_is_a_lower_bound() -> None:
    summary = capacity.summarize(capacity_record([(50, 0.010), (100, 0.020)]), slo_ms=100)
    assert summary["capacity_rps"] == 100 and summary["capacity_bound"] == "lower"
    assert summary["capacity_high_rps"] is None


def test_errors_over_one_percent_fail_a_trial() -> None:
    record = capacity_record([(50, 0.010), (100, 0.010)], fail_every=20)
    assert capacity.summarize(record, slo_ms=100)["capacity_rps"] is None


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


def test_the_capacity_row_reports_the_trial_at_capacity_and_the_interval() -> None:
    summaries = {}
    for rep, slow in enumerate((0.060, 0.300, 0.070)):
        record = capacity_record([(50, 0.010), (100, slow), (150, 0.400)])
        summaries[f"capacity/micro/rep{rep}"] = {
            **analysis.summarize(record, 100),
            **capacity.summarize(record, 100),
        }
    by_arch = analysis.aggregate(summaries, ["micro"], ["capacity"])
    capacity.extend(by_arch, summaries)
    row = by_arch["micro"]["capacity"]
    assert row["runs"] == 3 and row["invalid_runs"] == 0
    spread = row["capacity_rps"]
    assert (spread["median"], spread["min"], spread["max"], spread["n"]) == (100, 50, 100, 3)
    # the interval spans the brackets' ends: [50, 100] in rep 1, [100, 150] in the others
    assert (spread["low"], spread["high"]) == (50, 150)
    assert row["spread_flag"]  # 50 to 100 around a median of 100: beyond the 25% bound
    # latency at capacity: 70 ms (rep 2), 10 ms (rep 1 only passed its 50 req/s trial), 60 ms
    assert row["p99_ms"]["median"] == pytest.approx(60, abs=0.1)
    assert row["p99_ms"]["min"] == pytest.approx(10, abs=0.02)
    assert not summaries["capacity/micro/rep0"]["capacity_noisy"]


def test_a_failing_trial_below_a_passing_one_widens_the_bracket() -> None:
    record = capacity_record([(50, 0.300), (100, 0.010), (150, 0.400)])
    summary = capacity.summarize(record, 100)
    assert summary["capacity_noisy"]
    # no rate was tried twice: neither verdict outweighs the other, and the envelope keeps both
    assert summary["capacity_low_rps"] is None and summary["capacity_high_rps"] == 150


def test_the_common_rate_is_cautious_when_a_search_has_no_envelope_low() -> None:
    # rep 0's lowest trial failed: its envelope has no low end, so the interval starts at 0
    noisy = [(50, 0.300), (100, 0.010), (150, 0.400)]
    clean = [(50, 0.010), (100, 0.010), (150, 0.060), (200, 0.400)]
    runs = {
        f"capacity/micro/rep{rep}": capacity.summarize(capacity_record(trials), 100)
        for rep, trials in enumerate((noisy, clean, clean))
    }
    spread = capacity.figures(list(runs.values()))["capacity_rps"]
    assert (spread["low"], spread["min"], spread["median"]) == (0.0, 100, 150)
    # half the lowest search's capacity (100), not half the median (150)
    assert capacity.common_rate(runs, ["micro"], 0.5) == 50.0


def test_workers_sharing_a_core_are_judged_together() -> None:
    def worker(index: int, cpus: list[int], cpu_s: float) -> dict[str, object]:
        return {"worker_index": index, "generator_cpus": cpus, "generator_cpu_s": cpu_s,
                "measured_wall_s": 10.0, "missing": False}  # fmt: skip

    # two at 50% of CPU 0 saturate it, though neither alone reaches the 90% limit
    (reason,) = analysis.shared_core_reasons([worker(0, [0], 5.0), worker(1, [0], 4.6)], 0.9)
    assert "workers 0, 1 share CPU 0" in reason and "96%" in reason
    # on cores of their own, or with room left on the shared one, they are not
    assert analysis.shared_core_reasons([worker(0, [0], 5.0), worker(1, [1], 5.0)], 0.9) == []
    assert analysis.shared_core_reasons([worker(0, [0], 3.0), worker(1, [0], 3.0)], 0.9) == []
    # two cores shared by four workers: the load is their sum over both cores
    assert analysis.shared_core_reasons([worker(i, [0, 1], 4.0) for i in range(4)], 0.9) == []
    (reason,) = analysis.shared_core_reasons([worker(i, [0, 1], 4.6) for i in range(4)], 0.9)
    assert "share CPU 0, 1: together at 92% of them" in reason


def test_a_search_is_calibrated_by_the_mean_of_before_and_after_or_the_one_that_ran() -> None:
    before, after = {"pipeline_rps": 500.0, "started_unix": 1.0}, {"pipeline_rps": 300.0}
    assert calibration.around(before, after)["pipeline_rps"] == 400.0
    failed = {"pipeline_rps": None, "error": "timed out"}
    assert calibration.around(before, failed)["pipeline_rps"] == 500.0
    assert calibration.around(failed, failed)["pipeline_rps"] is None
