"""`archbench compare`: passes an equal run, catches a regression beyond its threshold, and
answers a bad --fail-on or a bad folder with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import compare
from bench.store.folder import SCHEMA_VERSION
from bench.store.stored import open_run
from tests.bench import constructed as c

ARCHBENCH = [sys.executable, "-m", "archbench"]


def folder(root: Path, name: str, data: dict[str, Any], version: int = SCHEMA_VERSION) -> Path:
    path = root / name
    path.mkdir()
    meta = {"config": {"archs": list(data["by_arch"]), "slo_ms": 100.0, "repeat": 1}}
    for file, content in (("meta.json", meta), ("summary.json", data)):
        (path / file).write_text(json.dumps({"schema_version": version, **content}))
    return path


def slower(p99: float = 10.0, capacity: float = 400.0) -> dict[str, Any]:
    archs = c.default_archs()
    archs["monolith"]["steady"]["p99"] = p99
    archs["monolith"]["capacity"]["capacity"] = capacity
    return c.summary(archs)


def archbench_compare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ARCHBENCH, "compare", *map(str, args)], capture_output=True, text=True, timeout=60
    )


def test_an_equal_run_passes(tmp_path: Path) -> None:
    a, b = folder(tmp_path, "a", c.summary()), folder(tmp_path, "b", c.summary())
    done = archbench_compare(a, b, "--fail-on", "p99:+10%,capacity:-5%,cpu:+5%")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "regression" not in done.stdout
    assert "monolith" in done.stdout and "+0.0%" in done.stdout


def test_a_regression_beyond_the_threshold_fails(tmp_path: Path) -> None:
    a = folder(tmp_path, "a", c.summary())
    b = folder(tmp_path, "b", slower(p99=12.5))  # +25%
    done = archbench_compare(a, b, "--fail-on", "p99:+10%")
    assert done.returncode == compare.REGRESSION_EXIT
    assert "regression: monolith p99 +25.0% (limit p99:+10%)" in done.stdout
    # within a looser threshold it passes
    assert archbench_compare(a, b, "--fail-on", "p99:+30%").returncode == 0
    # without --fail-on it only reports
    assert archbench_compare(a, b).returncode == 0


def test_a_drop_in_capacity_is_caught_and_a_rise_is_not() -> None:
    before = open_run_of(c.summary())
    lower, higher = open_run_of(slower(capacity=360.0)), open_run_of(slower(capacity=480.0))
    rules = compare.parse_rules("capacity:-5%")
    assert compare.report(before, lower, rules)[1] == [
        "regression: monolith capacity -10.0% (limit capacity:-5%)"
    ]
    assert compare.report(before, higher, rules)[1] == []


def test_a_guarded_figure_missing_from_a_run_fails() -> None:
    # cost is not in either run: a guard cannot pass without its figure
    lines, regressions = compare.report(open_run_of(c.summary()), open_run_of(c.summary()),
                                        compare.parse_rules("cost:+1%"))  # fmt: skip
    assert regressions and all("not measured" in r for r in regressions)


def open_run_of(data: dict[str, Any]) -> Any:
    return c.run(data)


@pytest.mark.parametrize("spec", ["p99", "p99:10%", "latency:+10%", "p99:+10", "p99:+x%"])
def test_a_bad_fail_on_gets_one_line(tmp_path: Path, spec: str) -> None:
    a = folder(tmp_path, "a", c.summary())
    done = archbench_compare(a, a, "--fail-on", spec)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert (
        "FIGURE:+N%" in done.stderr
        and "capacity, p50, p99, errors, cpu, memory, cost" in done.stderr
    )


def test_bad_folders_get_one_line(tmp_path: Path) -> None:
    good = folder(tmp_path, "good", c.summary())
    future = folder(tmp_path, "future", c.summary(), version=SCHEMA_VERSION + 1)
    for args, expected in (
        ((tmp_path / "missing", good), "no run folder at"),
        ((good, future), f"schema version {SCHEMA_VERSION + 1}"),
        ((good, tmp_path), "has no meta.json"),
    ):
        done = archbench_compare(*args)
        assert done.returncode == 1
        assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr


def test_open_run_reads_what_compare_reads(tmp_path: Path) -> None:
    run = open_run(folder(tmp_path, "a", c.summary()))
    assert run.archs == ["monolith", "micro"]
    assert run.slo_ms == 100.0
