"""Faults on a real engine through the bench: a short `archbench bench --backend docker
--scenario faults` hangs (docker pause), slows and breaks `score` with the failure-isolation
figures recorded as on the local backend. (Crash and leak: test_restarts.py.)"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from bench.analyse import isolation
from bench.analyse import runs as analysis
from bench.measure import resources
from stack.engine import leftovers
from tests.bench.conftest import bench
from tests.bench.test_faults import ENDPOINT_KEYS, ENTRY_KEYS
from tests.conftest import free_base_port

SLO_MS, SLOW_MS, FAULT_S = 1000.0, 1000.0, 2.0
# Hang, slow and errors end when they are undone (no restart to wait for, unlike the Docker
# runs' default tail, which outlasts a restart on 0.2 CPU), so a short tail measures them.
TAIL_S = 3.0


def engine_events(engine: docker.DockerClient, since: float, kinds: list[str]) -> list[Any]:
    """The engine's events of those kinds on containers of archbench micro projects."""
    found = engine.events(
        since=int(since), until=int(time.time()) + 1, filters={"event": kinds}, decode=True
    )
    return [
        e
        for e in found
        if e["Actor"]["Attributes"]
        .get("com.docker.compose.project", "")
        .startswith("archbench-micro-")
    ]


@pytest.fixture(scope="module")
def fault_run(
    engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> tuple[Path, list[Any]]:
    """A short fault bench of micro on Docker: hang, slow and errors of score, resilience off."""
    results = tmp_path_factory.mktemp("results")
    since = time.time()
    flags = ["--backend", "docker", "--arch", "micro", "--fault", "hang,slow,errors"]
    flags += ["--rate", "20", "--slo-ms", str(SLO_MS), "--fault-slow-ms", str(SLOW_MS)]
    flags += ["--fault-s", str(FAULT_S), "--fault-tail-s", str(TAIL_S), "--label", "docker-faults"]
    done = bench(results, free_base_port(), "--scenario", "faults", *flags)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "failure isolation" in done.stdout
    events = engine_events(engine, since, ["pause", "unpause"])
    assert leftovers() == []
    return (results / "latest").resolve(), events


def entries(run: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((run / "summary.json").read_text())
    return {e["fault"]: e for e in summary["faults"]}


def slowest_predict_ms(entry: dict[str, Any]) -> float:
    """The highest p99 of single predictions over the run's 1-s bins."""
    return max(r["p99_ms"] or 0.0 for r in entry["timeline"] if r["name"] == "predict")


def test_every_fault_run_has_the_isolation_figures_derived_from_its_raw_files(
    fault_run: tuple[Path, list[Any]],
) -> None:
    run, _ = fault_run
    summary = json.loads((run / "summary.json").read_text())
    found = entries(run)
    assert set(found) == {"hang", "slow", "errors"}
    for fault, entry in found.items():
        assert set(entry) >= ENTRY_KEYS and entry["stage"] == "score", fault
        assert entry["resilience"] is False and entry["restart_s"] is None
        start, end = entry["fault_window_s"]
        # the injection holds the fault at least this long before undoing it
        assert start is not None and end is not None and end - start >= FAULT_S
        for endpoint in entry["endpoints"].values():
            assert set(endpoint) >= ENDPOINT_KEYS
        # validate never needs score: not one of its requests failed, whatever the fault
        assert entry["endpoints"]["validate"]["failed"] == 0
        assert set(entry["kept_serving"]) == {"validate"}
        raw = run / "raw" / entry["key"]
        record = json.loads((raw / "latency.json").read_text())
        events = json.loads((raw / "events.json").read_text())
        assert events["error"] is None
        start_unix, end_unix = record["measured_unix"]
        samples = json.loads((raw / "samples.json").read_text())
        figures = resources.derive(samples, start_unix, end_unix, analysis.answered(record))
        again = isolation.entry(record, events, SLO_MS, summary["rate_rps"], figures, entry["key"])
        assert json.loads(json.dumps(again)) == entry


def test_a_hang_is_a_docker_pause_and_holds_predict_until_the_unpause(
    fault_run: tuple[Path, list[Any]],
) -> None:
    run, events = fault_run
    hang = entries(run)["hang"]
    # exactly one pause and one unpause, both of the score container, in that order
    assert [e["Action"] for e in events] == ["pause", "unpause"]
    assert {e["Actor"]["Attributes"]["com.docker.compose.service"] for e in events} == {"score"}
    # a prediction that reached score as the container froze waited for the unpause
    assert slowest_predict_ms(hang) >= FAULT_S * 1000 / 2
    assert hang["endpoints"]["predict"]["failed"] == 0  # no timeouts: held, not failed


def test_slow_and_errors_reach_score_through_its_admin_listener(
    fault_run: tuple[Path, list[Any]],
) -> None:
    found = entries(run := fault_run[0])
    # Which 1-s bins the affected predictions fall in depends on how far behind a busy machine
    # runs (they are binned by send time), so these hold over the whole run.
    # every prediction that reached score during the slowdown waited the injected delay
    assert slowest_predict_ms(found["slow"]) >= SLOW_MS
    assert found["slow"]["endpoints"]["predict"]["failed"] == 0
    # 30% of score's calls failed: the gateway answered those predictions with an error
    errors = found["errors"]["endpoints"]["predict"]
    assert errors["failed"] > 0 and errors["success_rate_overall"] < 1.0
    for fault in ("slow", "errors"):
        events = json.loads((run / "raw" / found[fault]["key"] / "events.json").read_text())
        start = events["events"][0]
        assert start["spec"]["stage"] == "score" and events["events"][-1]["event"] == "end"
