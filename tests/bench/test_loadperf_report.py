"""`archbench loadperf`'s comparisons from constructed runs: capture cost per ABBA pair, Locust
against wrk per round, each with its interval and judged on it; worker counts on answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.selfcheck.loadperf import generators, report
from bench.selfcheck.loadperf.generators import GeneratorRun
from bench.selfcheck.loadperf.result import (
    PROBE,
    USERS,
    WRK,
    CostRun,
    Load,
    LoadPerfConfig,
    LoadPerfResult,
)
from tests.bench import tables

DRIFT = [1.0, 0.6, 1.3, 0.9]  # the generator's speed over the four pairs or rounds


def constructed(users_over_wrk: list[float]) -> LoadPerfResult:
    result = LoadPerfResult(LoadPerfConfig(repeats=4, rounds=4), Path("logs/x"), [1], [0])
    for d in DRIFT:
        # Capture costs 3% more CPU per request than none, whatever the drift.
        result.costs.append(CostRun(True, ["locust"], 0.103 / d, 3.0, 1000, 1000.0, 0, None))
        result.costs.append(CostRun(False, ["locust"], 0.100 / d, 3.0, None, 1000.0, 0, None))
    wrk = [Load(["wrk"], 500 * d, 1500, 0, None, 1.5) for d in DRIFT]
    users = [
        Load(["locust"], 500 * d * r, 1500, 0, 0.4)
        for d, r in zip(DRIFT, users_over_wrk, strict=True)
    ]
    probe = [Load(["locust"], 480 * d, 1400, 0) for d in DRIFT]
    result.saturation["monolith"] = {USERS: users, WRK: wrk, PROBE: probe}
    result.foreign = {"monolith wrk": [(0.01, 0.02), (0.02, 0.08)]}
    return result


def test_capture_cost_is_paired_and_cancels_the_drift() -> None:
    result = constructed([1.0] * 4)
    assert report.capture_costs(result.costs) == pytest.approx([0.03] * 4)
    cost = report.capture_figure(result.costs)
    assert cost.interval == pytest.approx((1.03, 1.03, 1.03)) and not cost.disagrees


def test_locust_against_wrk_is_a_ratio_per_round_judged_on_its_interval() -> None:
    steady = {f.name: f for f in report.wrk_figures(constructed([0.97, 0.95, 0.96, 0.98]))}
    assert set(steady) == {"monolith: Locust users / wrk", "monolith: capacity probe / wrk"}
    assert steady["monolith: capacity probe / wrk"].median == pytest.approx(0.96)
    noisy = constructed([0.6, 1.0, 1.3, 0.9])
    rows = tables.rows(report.targets(noisy))
    assert "within noise" in rows["monolith: Locust users / wrk"]
    assert "PASS" in rows["monolith: capacity probe / wrk"]
    assert "PASS" in rows["exact-latency capture: CPU with / without capture"]
    lines = report.conditions(noisy)
    assert any("rounds disagree" in line and "Locust users / wrk" in line for line in lines)
    assert any("monolith wrk 2%/8%" in line for line in lines)  # the worst run of the phase


def generator(workers: int, answered_rps: float, target_share: float) -> GeneratorRun:
    us = [90.0] * workers
    return GeneratorRun(workers, ["locust"], 20000.0 * workers, answered_rps, 20000.0 * workers,
                        10000.0, [], us, [0.95] * workers, target_share)  # fmt: skip


def test_worker_counts_are_judged_on_answers_with_the_cores_they_had() -> None:
    runs = [generator(1, 5000, 0.5), generator(2, 5100, 0.52), generator(4, 9500, 0.8)]
    cores, one, _, two, _, four, _ = generators.lines(runs, [0], [1])
    assert "up to 1 worker(s), one per core" in cores and "so here 2 or more" in cores
    assert "answered 5,000 req/s (sent 20,000) (50% of wrk's 10,000)" in one
    # two workers on one core: no more than one, and that is what one core allows
    assert "1.02× one worker (at most 1× on these cores: near-linear)" in two
    assert "the target may have been the limit" not in two
    # answering 95% of what wrk got from the floor: the floor, not the generator, may be the limit
    assert "the target may have been the limit: a lower bound on the generator" in four
    on_two_cores = generators.lines(runs[:2], [0, 1], [2])[3]
    assert "1.02× one worker (at most 2× on these cores: not linear)" in on_two_cores
