"""Self-check rounds: the sides take turns in ABBA order, and each figure is printed as a median
with its interval, flagged when the rounds disagree."""

from __future__ import annotations

import pytest

from bench.selfcheck.rounds import MAX_SPREAD, cell, figure, legend, order, paired, run_rounds


def test_rounds_alternate_their_order() -> None:
    assert order(["A", "B", "C"], 4) == [
        ["A", "B", "C"],
        ["C", "B", "A"],
        ["A", "B", "C"],
        ["C", "B", "A"],
    ]
    with pytest.raises(ValueError, match="rounds must be 1 or more"):
        order(["A"], 0)


def test_every_step_runs_once_per_round_with_its_number() -> None:
    calls: list[tuple[str, int]] = []
    said: list[str] = []
    steps = {name: (lambda r, name=name: calls.append((name, r))) for name in ("A", "B")}
    run_rounds(steps, 3, said.append)
    assert calls == [("A", 0), ("B", 0), ("B", 1), ("A", 1), ("A", 2), ("B", 2)]
    assert said[1] == "round 2/3: B, A"


def test_a_paired_ratio_leaves_out_rounds_missing_a_side() -> None:
    ratio = paired("x", [2.0, None, 6.0, 8.0], [1.0, 2.0, None, 4.0])
    assert ratio.values == [2.0, 2.0]
    assert ratio.interval == (2.0, 2.0, 2.0) and not ratio.disagrees


def test_rounds_that_disagree_are_flagged_in_the_cell_and_the_legend() -> None:
    steady = figure("steady", [1.00, 1.02, 0.99, 1.01, 1.00, 0.98])
    noisy = figure("noisy", [1.0, 0.5, 1.6, 0.7, 1.4, 0.9])
    assert not steady.disagrees and noisy.disagrees
    assert "!" not in cell(steady) and cell(steady).startswith("1.000 (")
    assert cell(noisy).startswith("[red]") and "!" in cell(noisy)
    lines = legend([steady, noisy], "6 interleaved rounds")
    assert "over 6 interleaved rounds" in lines[0]
    assert lines[-1].endswith(f"beyond ±{MAX_SPREAD:.0%} of the median): noisy[/]")
    assert len(legend([steady], "6 rounds")) == 1


def test_a_figure_without_values_reads_not_available() -> None:
    empty = figure("cpu", [None, None])
    assert empty.interval is None and empty.median is None and not empty.disagrees
    assert cell(empty) == "n/a"
