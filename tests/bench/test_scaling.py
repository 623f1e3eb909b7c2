"""The scaling part on a real short run: scaled stacks measured within the budget, and every
figure of a point recomputed from its raw files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.analyse import capacity


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_each_point_is_measured_on_the_scaled_stack(parts_dir: Path) -> None:
    scaling = read(parts_dir / "summary.json")["scaling"]
    assert {a: [(p["replicas"], p["scaled"]) for p in points] for a, points in scaling.items()} == {
        "monolith": [(2, "monolith-workers")],
        "micro": [(2, "score")],
    }
    micro = read(parts_dir / "raw" / "scaling" / "micro" / "r2" / "rep0" / "start.json")
    assert micro["replicas"] == {"score": 2}
    assert set(micro["ready_unix"]) == {
        "ingest",
        "validate",
        "features",
        "score",
        "score-2",
        "gateway",
    }
    monolith = read(parts_dir / "raw" / "scaling" / "monolith" / "r2" / "rep0" / "start.json")
    assert monolith["replicas"] == {"monolith": 2}
    for point in scaling["micro"] + scaling["monolith"]:
        (run,) = point["runs"]
        assert run["raw"].endswith("/capacity") and run["start"].endswith("start.json")
    # no one-replica point without the run's own capacity runs: nothing measured twice
    assert not (parts_dir / "raw" / "capacity").exists()


def test_point_figures_equal_what_the_raw_files_give(parts_dir: Path) -> None:
    summary = read(parts_dir / "summary.json")
    slo_ms = read(parts_dir / "meta.json")["config"]["slo_ms"]
    for points in summary["scaling"].values():
        for point in points:
            (run,) = point["runs"]
            record = read(parts_dir / run["raw"] / "latency.json")
            found = capacity.summarize(record, slo_ms)
            assert point["capacity_rps"] == run["capacity_rps"] == found["capacity_rps"]
            assert run["fail_rps"] == found["capacity_high_rps"]
            samples = read(parts_dir / run["raw"] / "samples.json")
            start, end = record["measured_unix"]
            memory = [r["cgroup_memory_bytes"] for r in samples if start <= r["t_unix"] <= end]
            assert point["memory_bytes"] == max(memory)
            idle = read(parts_dir / run["start"])["idle"]
            at_rest = sum(r["cgroup_memory_bytes"] for r in idle) / len(idle)
            assert point["idle_memory_bytes"] == round(at_rest)
