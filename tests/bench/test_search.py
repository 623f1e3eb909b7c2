"""The capacity search on constructed trials: it converges, resolves contradictions, reports
bounds when censored, and its interval covers a simulated noisy stack's true capacity."""

from __future__ import annotations

import random
from collections.abc import Callable

from bench.analyse import capacity
from bench.load.search import SearchConfig, Trial, next_rate, outcome, run, trial_seconds

CONFIG = SearchConfig(slo_ms=100)


def trial(rate: float, passed: bool) -> Trial:
    return Trial(rate, 1000, rate, 5.0, 50.0 if passed else 500.0, 0.0, passed)


def search(
    passes: Callable[[float], bool], estimate: float, config: SearchConfig = CONFIG
) -> list[Trial]:
    """Run the search against a stack whose verdict at a rate is `passes(rate)`."""
    trials = run(lambda rate: trial(rate, passes(rate)), estimate, config, [])
    assert len(trials) <= config.max_trials
    return trials


def test_it_converges_on_a_sharp_knee_and_confirms_both_ends() -> None:
    trials = search(lambda rate: rate <= 500, estimate=600)
    result = outcome(trials, CONFIG)
    assert result.bound == "exact" and result.converged and result.confirmed
    assert result.low_rps is not None and result.high_rps is not None
    assert result.low_rps <= 500 < result.high_rps <= result.low_rps * (1 + CONFIG.tolerance)
    # both ends of the final bracket were tried twice, with the same verdict
    assert sum(t.rate == result.low_rps for t in trials) == 2
    assert sum(t.rate == result.high_rps for t in trials) == 2
    assert not result.noisy and len(trials) <= 8


def test_it_starts_from_the_probe_and_brackets_downwards_too() -> None:
    trials = search(lambda rate: rate <= 90, estimate=600)
    assert trials[0].rate == 480 and not trials[0].passed
    result = outcome(trials, CONFIG)
    assert result.bound == "exact" and result.low_rps is not None
    assert result.low_rps <= 90 < (result.high_rps or 0)


def test_the_first_step_down_is_gentle_then_the_search_halves() -> None:
    trials = search(lambda rate: rate <= 30, estimate=600)
    # 480 fails: 384 (the probe is usually near the knee), then halving while nothing passes
    assert [t.rate for t in trials[:4]] == [480, 384, 192, 96]
    assert outcome(trials, CONFIG).bound == "exact"


def test_a_pass_above_a_fail_is_tried_again_not_believed() -> None:
    trials = [trial(480, True), trial(600, False), trial(537, True), trial(508, False)]
    # 508 failed below a passing 537: the fail is tried again first
    assert next_rate(trials, 600, CONFIG) == 508
    trials.append(trial(508, True))
    # 508 now stands one pass, one fail: tried a third time
    assert next_rate(trials, 600, CONFIG) == 508
    trials.append(trial(508, True))
    result = outcome(trials, CONFIG)
    assert result.noisy and result.low_rps == 537 and result.high_rps == 600
    # the envelope of every trial keeps the contradiction visible
    assert capacity.envelope(trials) == (480, 600)


def test_a_search_that_never_fails_is_a_lower_bound() -> None:
    config = SearchConfig(slo_ms=100, max_rate=1000)
    trials = search(lambda rate: True, estimate=600, config=config)
    result = outcome(trials, config)
    assert result.bound == "lower" and result.high_rps is None
    assert result.capacity_rps == max(t.rate for t in trials) == 1000


def test_a_search_that_never_passes_is_an_upper_bound() -> None:
    config = SearchConfig(slo_ms=100, min_rate=5)
    trials = search(lambda rate: False, estimate=600, config=config)
    result = outcome(trials, config)
    assert result.bound == "upper" and result.capacity_rps is None
    assert result.high_rps == min(t.rate for t in trials) == 5


def test_a_search_cut_short_says_it_did_not_converge() -> None:
    config = SearchConfig(slo_ms=100, max_trials=3)
    result = outcome(search(lambda rate: rate <= 500, 600, config), config)
    assert result.trials == 3 and not result.converged


def test_a_trial_lasts_for_enough_requests_within_its_bounds() -> None:
    assert trial_seconds(600, CONFIG) == 2.0  # 1,000 requests take 1.7 s: the shortest trial
    assert trial_seconds(350, CONFIG) == 3.0
    assert trial_seconds(40, CONFIG) == 6.0  # 25 s wanted: the longest trial


def noisy_stack(rng: random.Random, truth: float) -> Callable[[float], bool]:
    """A trial passes below the true capacity, moved by this VM's speed noise (3% a trial) and
    failed outright by a transient stall one trial in ten."""
    return lambda rate: rate < truth * (1 + rng.gauss(0, 0.03)) and rng.random() > 0.1


def test_the_interval_covers_the_truth_of_a_noisy_stack() -> None:
    covered = 0
    seeds = range(200)
    for seed in seeds:
        rng = random.Random(seed)
        truth = 500.0
        reps = []
        for _ in range(3):
            # between repetitions the machine drifts by 5%, and the probe misses by up to 20%
            drifted = truth * (1 + rng.gauss(0, 0.05))
            trials = search(noisy_stack(rng, drifted), estimate=truth * rng.uniform(1.0, 1.4))
            reps.append(capacity.summary_of(trials, CONFIG))
        spread = capacity.figures(reps)["capacity_rps"]
        covered += (spread["low"] or 0) <= truth <= (spread["high"] or float("inf"))
    assert covered / len(seeds) >= 0.90
