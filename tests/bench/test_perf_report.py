"""`archbench perf`'s figures from constructed rounds: each ratio is taken within a round, so a
drift of the machine that hits both sides alike leaves it unmoved; every stack measured gets
its ratios; targets are judged on the interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.selfcheck.perf import report
from bench.selfcheck.perf.result import (
    BASELINE,
    FLOOR,
    STACKS,
    UNTRACED,
    PerfConfig,
    PerfResult,
    Sample,
    tracing_rounds,
)
from bench.selfcheck.wrk import Peak
from tests.bench import tables

# The machine's speed in each of four rounds: it halves in the second.
SPEED = [1.0, 0.5, 0.8, 1.25]


def _sample(ms_at_full_speed: float, cpu_ms: float | None, speed: float) -> Sample:
    return Sample(
        400, ms_at_full_speed / speed, 2 * ms_at_full_speed / speed, cpu_ms and cpu_ms / speed
    )


def _peak(rps: float) -> Peak:
    return Peak(["wrk", "-c8"], int(rps * 3), rps, 10.0, 20.0, 0)


def constructed(extra: dict[str, float] | None = None) -> PerfResult:
    """Four rounds: monolith 2.0 ms p50 and 1.6 CPU-ms, micro 0.5 ms and 0.4 CPU-ms more per
    hop, the floor 0.25 and 0.2 ms, wrk 450 and 270 req/s, in-process 500 req/s; all scaled by
    the round's speed. `extra` adds stacks with their latency tax per hop."""
    result = PerfResult(PerfConfig(Path("models/demo"), rounds=len(SPEED)), [1], [0])
    result.steps = ["in-process", FLOOR, "monolith wrk", "micro wrk"]
    result.in_process_rps = [500 * s for s in SPEED]
    taxes = {"micro": 0.5, **(extra or {})}
    result.low[BASELINE] = [_sample(2.0, 1.6, s) for s in SPEED]
    result.peaks[BASELINE] = [_peak(450 * s) for s in SPEED]
    for stack, tax in taxes.items():
        result.low[stack] = [_sample(2.0 + 4 * tax, 1.6 + 4 * 0.4, s) for s in SPEED]
        result.peaks[stack] = [_peak(270 * s) for s in SPEED]
    result.low[FLOOR] = [_sample(0.25, 0.2, s) for s in SPEED]
    result.foreign = {"in-process": [0.01, 0.02], "micro wrk": [0.01, 0.09]}
    return result


def test_ratios_are_unmoved_by_a_drift_both_sides_share() -> None:
    ratios = {f.name: f for f in report.ratios(constructed())}
    expected = {
        "micro hop tax / monolith p50": 0.25,
        "micro hop tax / floor p50": 2.0,
        "micro hop tax / monolith CPU": 0.25,
        "micro hop tax / floor CPU": 2.0,
        "micro / monolith wrk peak": 0.6,
        "monolith served / in-process": 0.9,
    }
    assert set(ratios) == set(expected)
    for name, value in expected.items():
        assert ratios[name].interval == pytest.approx((value, value, value)), name
        assert not ratios[name].disagrees


def test_every_stack_measured_gets_its_own_ratios() -> None:
    assert BASELINE == "monolith" and "micro" in STACKS
    ratios = {f.name: f for f in report.ratios(constructed({"micro-tls": 0.75}))}
    assert "micro-tls hop tax / floor p50" in ratios and "micro-tls / monolith wrk peak" in ratios
    assert ratios["micro-tls hop tax / monolith p50"].median == pytest.approx(0.375)
    assert ratios["micro hop tax / monolith p50"].median == pytest.approx(0.25)


def test_targets_are_judged_on_the_interval() -> None:
    rows = tables.rows(report.targets(constructed()))
    # The p50 tax per hop is 0.5 ms at full speed and moves with the machine across 0.5 ms.
    assert "within noise" in rows["micro p50 latency tax per hop"]
    # The CPU tax per hop stays above 0.3 ms in every round.
    assert "FAIL" in rows["micro CPU tax per hop"]
    assert "PASS" in rows["monolith served / in-process"]
    assert "0.900 (0.900–0.900)" in rows["monolith served / in-process"]


def test_figures_and_conditions_name_the_floor_the_rounds_and_the_skew() -> None:
    result = constructed()
    figures = tables.text(report.figures(result))
    assert "floor" in figures and "in-process" in figures
    ratios = tables.text(report.ratios_table(report.ratios(result)))
    assert "micro hop tax / floor CPU" in ratios and "2.00 2.00 2.00 2.00" in ratios
    lines = report.conditions(result, 64)
    assert any("4 interleaved rounds" in line for line in lines)
    assert any("microservices.hops.StageClient" in line for line in lines)
    assert "micro wrk" in lines[-1] and "in-process" not in lines[-1]


def test_the_price_of_tracing_per_hop_leaves_out_what_the_entry_pays_in_both() -> None:
    # Tracing adds 20 µs to the monolith's request (its entry's accept and line) and 100 µs to
    # micro's: (100 − 20) / 4 hops = 20 µs per hop, in every round whatever the machine's speed.
    result = constructed({"micro" + UNTRACED: 0.5, "monolith" + UNTRACED: 0.0})
    result.low["micro"] = [_sample(4.0, 3.2, 1.0) for _ in SPEED]
    result.low["micro" + UNTRACED] = [_sample(3.9, 3.1, 1.0) for _ in SPEED]
    result.low["monolith" + UNTRACED] = [_sample(1.98, 1.58, 1.0) for _ in SPEED]
    result.low[BASELINE] = [_sample(2.0, 1.6, 1.0) for _ in SPEED]
    rounds = tracing_rounds(result)
    for name, expected in (("monolith p50", 20), ("micro p50", 100), ("per hop p50", 20)):
        assert rounds[name] == pytest.approx([expected] * len(SPEED)), name
    assert rounds["per hop CPU"] == pytest.approx([20.0] * len(SPEED))
    table = report.tracing(result)
    assert table is not None
    rows = tables.rows(table)
    assert "20.0 (20.0–20.0)" in rows["per hop p50"]
    # the untraced sides are sides of this price only, not of the hop-tax ratios
    assert not any(UNTRACED in f.name for f in report.ratios(result))
    assert not any(UNTRACED in name for name in tables.rows(report.targets(result)))
    assert any("ARCHBENCH_TRACE=0" in line for line in report.conditions(result, 64))
    # without the untraced sides, no price and no table
    assert report.tracing(constructed()) is None
