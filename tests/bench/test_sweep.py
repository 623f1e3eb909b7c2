"""The model and batch sweep on a real short run: the batch size is really sent, and the shares of
latency and CPU are what the raw latency records and samples give."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import runs as analysis
from bench.measure import resources
from bench.run import sweep
from pipeline.stages import STAGE_NAMES


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_every_model_batch_and_architecture_is_a_point(parts_dir: Path) -> None:
    entries = read(parts_dir / "summary.json")["sweep"]
    assert {(e["model"], e["batch"], e["arch"]) for e in entries} == {
        ("light", b, a) for b in (1, 8) for a in ("monolith", "micro")
    }
    meta = read(parts_dir / "raw" / "sweep" / "light" / "micro" / "rep0" / "start.json")
    assert meta["replicas"] == {}
    # the stacks ran on the light model's bundle (trained on first use)
    log = (parts_dir / "logs").glob("micro-rep0-sweep-light")
    assert list(log)


def test_the_batch_size_is_really_sent(parts_dir: Path) -> None:
    sizes = {}
    for batch in (1, 8):
        path = parts_dir / "raw" / "sweep" / "light" / "monolith" / "rep0" / f"batch{batch}"
        with (path / "locust_stats.csv").open() as f:
            row = next(r for r in csv.DictReader(f) if r["Name"] == "predict")
        sizes[batch] = float(row["Average Content Size"])
    # eight predictions per answer instead of one (beside one model version)
    assert sizes[8] > 4 * sizes[1]


def test_shares_equal_what_the_raw_files_give(parts_dir: Path) -> None:
    summary = read(parts_dir / "summary.json")
    entries = {(e["batch"], e["arch"]): e for e in summary["sweep"]}
    for (batch, arch), entry in entries.items():
        raw = parts_dir / "raw" / "sweep" / "light" / arch / "rep0" / f"batch{batch}"
        record = read(raw / "latency.json")
        sums = record["timings"]["predict"]
        compute = sum(sums.get(s, 0.0) for s in STAGE_NAMES) / sums["n"]
        hops = sum(v for k, v in sums.items() if k.endswith("-hop")) / sums["n"]
        mean = analysis.window(record, analysis.measured_bins(record))["predict"]["service_ms"][
            "mean"
        ]
        start, end = record["measured_unix"]
        cpu = resources.derive(read(raw / "samples.json"), start, end, analysis.answered(record))
        assert entry["stage_compute_ms"] == pytest.approx(compute)
        assert entry["hop_ms"] == pytest.approx(hops)
        assert entry["arch_share_of_latency"] == pytest.approx(max(0.0, 1 - compute / mean))
        assert entry["cpu_ms_per_request"] == pytest.approx(cpu["cpu_ms_per_request"])
        assert entry["cpu_ms_per_prediction"] == pytest.approx(cpu["cpu_ms_per_request"] / batch)
        # one user, one request at a time: nothing was ever shed or left waiting
        assert analysis.counts(record, analysis.measured_bins(record))["shed"] == 0
    for batch in (1, 8):
        micro, monolith = entries[(batch, "micro")], entries[(batch, "monolith")]
        assert micro["hop_ms"] > 0 and monolith["hop_ms"] == 0
        assert micro["vs_monolith_p50"] == pytest.approx(micro["p50_ms"] / monolith["p50_ms"])


def test_the_crossover_is_the_first_point_within_tolerance() -> None:
    def entry(model: str, batch: int, arch: str, compute: float, p50: float, cpu: float) -> dict:
        return {
            "model": model,
            "batch": batch,
            "arch": arch,
            "stage_compute_ms": compute,
            "p50_ms": p50,
            "cpu_ms_per_request": cpu,
        }

    points = sweep.summarize(
        [
            {**e, "rep": 0, "valid": True}
            for e in (
                entry("light", 1, "monolith", 1.0, 2.0, 2.0),
                entry("light", 1, "micro", 1.0, 6.0, 5.0),
                entry("heavy", 1, "monolith", 20.0, 22.0, 21.0),
                entry("heavy", 1, "micro", 20.0, 24.0, 25.0),
                entry("medium", 1, "monolith", 5.0, 7.0, 6.0),
                entry("medium", 1, "micro", 5.0, 11.0, 9.0),
            )
        ]
    )
    found = sweep.crossover(points, tolerance=0.10)["micro"]
    # in order of compute: light 3x, medium 1.57x, heavy 1.09x: heavy is the first within 10%
    assert found["p50"] == {"model": "heavy", "batch": 1, "ratio": pytest.approx(24 / 22)}
    assert found["cpu"] is None  # 25/21 is 1.19x
    assert found["closest_cpu"]["model"] == "heavy"
