"""The share of the SUT CPU taken by other work is read from tick counters, never negative."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.measure.contention import Ticks, foreign_share

NS_PER_TICK = 1e9 / os.sysconf("SC_CLK_TCK")


def test_ticks_are_read_for_the_given_cpus_only(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  30 0 30 300 0 0 0 0 0 0\n"
        "cpu0 10 0 10 100 0 0 0 0 0 0\n"
        "cpu1 20 0 20 200 5 1 1 0 7 0\n"
        "intr 12345\n"
    )
    assert Ticks.read([1], stat) == Ticks(total=247, idle=205)


def test_busy_time_beyond_the_measured_work_is_foreign() -> None:
    before, after = Ticks(total=0, idle=0), Ticks(total=100, idle=20)
    # 80 ticks busy, 60 of them the measured work: 20 % of the window went to other work.
    assert foreign_share(before, after, int(60 * NS_PER_TICK)) == pytest.approx(0.2)
    assert foreign_share(before, after, int(90 * NS_PER_TICK)) == 0.0
    assert foreign_share(before, before, 0) == 0.0
