"""The hop tax of Docker's bridge against loopback: its figures from a constructed raw record
(pure), the report's section from them, and a short real measurement that leaves nothing on the
engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from bench.analyse import bridge
from bench.report.bridge import TITLE, bridge_section
from bench.report.document import Document, to_markdown
from bench.store.folder import SCHEMA_VERSION
from bench.store.stored import open_run
from stack.engine import leftovers
from stack.topology import Budget
from tests.bench import constructed as c
from tests.bench.markdown import md_rows, md_section

DOCKER = {"backend": "docker", "engine": "20.10.24+dfsg1", "mode": "partition"}


def raw_record(loopback: list[float], over_bridge: list[float]) -> dict[str, Any]:
    """Per-round p50s of each side; p99 twice the p50, CPU per call a tenth of a millisecond."""

    def samples(p50s: list[float]) -> list[dict[str, Any]]:
        return [
            {"requests": 300, "p50_ms": p, "p99_ms": 2 * p, "cpu_ms_per_request": 0.1} for p in p50s
        ]

    return {
        "engine": DOCKER["engine"],
        "rounds": len(loopback),
        "requests": 300,
        "samples": {"loopback": samples(loopback), "bridge": samples(over_bridge)},
    }


def test_the_tax_is_the_median_of_per_round_differences() -> None:
    # the machine drifts over the rounds; each round's difference is 0.01 ms but the third's
    figures = bridge.summarize(raw_record([0.20, 0.30, 0.25], [0.21, 0.31, 0.29]))
    assert figures["tax_p50_ms"][0] == pytest.approx(0.01)
    assert figures["loopback"]["p50_ms"][0] == pytest.approx(0.25)
    assert figures["bridge"]["p50_ms"][0] == pytest.approx(0.29)
    assert figures["tax_cpu_ms"][0] == pytest.approx(0.0)
    # /predict makes four hops: the bridge's share of one prediction
    assert figures["hops_per_prediction"] == 4
    assert figures["per_prediction_p50_ms"][0] == pytest.approx(0.04)
    # per-round ratios 1.05, 1.033 and 1.16: their median
    assert figures["ratio_p50"][0] == pytest.approx(0.21 / 0.20)


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    run = c.run(summary)
    run.meta.update(meta)
    return md_section(to_markdown(Document("t", (bridge_section(run),))), TITLE)


def test_the_report_of_a_docker_run_states_the_bridge_tax_and_its_loopback_source() -> None:
    summary = c.summary()
    summary["bridge"] = bridge.summarize(raw_record([0.2, 0.2, 0.2], [0.21, 0.21, 0.21]))
    text = markdown(summary, {"backend": DOCKER})
    rows = md_rows(text)
    assert rows[0] == ["path", "p50 ms", "p99 ms", "CPU ms per call"]
    assert [r[0] for r in rows[1:]] == [
        "loopback: the floor server's own container",
        "bridge: from a second container",
        "bridge tax per hop (bridge − loopback)",
    ]
    assert rows[3][1] == "0.010 (0.010–0.010)" and rows[3][2] == "0.020 (0.020–0.020)"
    assert "called on that container's own loopback, in the same rounds" in text
    assert "Docker Engine 20.10.24+dfsg1" in text
    assert "One /predict makes 4 hops: the bridge adds 0.040 (0.040–0.040) ms" in text


def test_a_local_run_says_its_hops_stay_on_loopback() -> None:
    text = markdown(c.summary(), {})
    assert "Not measured: every hop of a local run is on loopback" in text


def test_a_short_real_measurement_gives_both_sides_every_round_and_leaves_nothing(
    engine: docker.DockerClient, model_dir: Path
) -> None:
    from bench.selfcheck.bridge import measure

    said: list[str] = []
    raw = measure(model_dir, Budget(), rounds=2, requests=50, say=said.append)
    assert said == ["round 1/2: loopback, bridge", "round 2/2: bridge, loopback"]
    assert raw["engine"] == engine.version()["Version"]
    for side in bridge.SIDES:
        samples = raw["samples"][side]
        assert [s["requests"] for s in samples] == [50, 50]
        assert all(0 < s["p50_ms"] <= s["p99_ms"] for s in samples)
        # both containers sit in one cgroup: the server's CPU is counted with the client's
        assert all(s["cpu_ms_per_request"] > 0 for s in samples)
    assert leftovers("archbench-bridge-") == []


def test_archbench_perfs_host_loopback_floor_joins_the_table_when_kept_in_the_run(
    tmp_path: Path,
) -> None:
    summary = c.summary()
    summary["bridge"] = bridge.summarize(raw_record([0.2, 0.2, 0.2], [0.21, 0.21, 0.21]))
    floor = [{"requests": 400, "p50_ms": p, "p99_ms": 0.5, "cpu_ms_per_request": None}
             for p in (0.15, 0.17, 0.16)]  # fmt: skip
    for name, data in (
        ("meta.json", {"config": {"archs": ["monolith", "micro"], "slo_ms": 100.0}}),
        ("summary.json", summary),
        ("perf.json", {"hops": 4, "low": {"floor": floor}}),
    ):
        (tmp_path / name).write_text(json.dumps({"schema_version": SCHEMA_VERSION, **data}))
    section = bridge_section(open_run(tmp_path))
    text = md_section(to_markdown(Document("t", (section,))), TITLE)
    assert md_rows(text)[-1] == [
        "host loopback, no containers (archbench perf's floor, perf.json)",
        "0.160",
        "0.500",
        "–",
    ]
