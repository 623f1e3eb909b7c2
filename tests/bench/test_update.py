"""The update scenario: its plan, its figures from constructed records (no sleeping), a rolling
update of two real score replicas with the gateway sending refused calls on, the version
plumbing (a mixed answer names both versions), and the update runs of a real short default
`archbench bench` on both architectures, whose summary is recomputed from the raw per-request
records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import update as analysis
from bench.analyse import verdict
from bench.measure.ledger import SHED_STATUS, Ledger
from bench.run.deploy import new_version, point
from bench.run.update import UpdateConfig, UpdateRun, plan
from pipeline import bundle, stages
from pipeline.records import ValidBatch
from stack import rollout
from stack.runner import Stack
from stack.topology import PORT_BLOCK
from tests.bench import constructed
from tests.bench.conftest import DEFAULT_RUN_TIMEOUT_S
from tests.conftest import free_base_port, processes_on_ports, request


def test_the_plan_rolls_what_each_architecture_would() -> None:
    runs = plan(UpdateConfig(), ("monolith", "micro"))
    assert [(r.arch, r.variant, r.replicas, r.services) for r in runs] == [
        ("monolith", "restart", {}, ("monolith",)),
        ("monolith", "rolling", {"monolith": 2}, ("monolith",)),
        ("micro", "restart", {}, ("score",)),
        ("micro", "rolling", {"score": 2}, ("score", "score-2")),
    ]
    assert runs[-1].key == "update/micro/rolling/rep0"
    assert UpdateConfig(variants=("blue-green",)).check() == [
        "unknown update 'blue-green'; choose from: restart, rolling"
    ]


def ledger(rows: list[tuple[str, float, float | None, int, str | None]]) -> dict[str, Any]:
    """A per-request record from (name, intended_s, latency_ms, status, version) rows."""
    columns: dict[str, list[Any]] = {
        k: [] for k in ("name", "intended_s", "latency_ms", "status", "ok", "version")
    }
    for name, t, latency, status, version in rows:
        for key, value in zip(
            columns, (name, t, latency, status, status in (200, 422), version), strict=True
        ):
            columns[key].append(value)
    return {"schema": 1, "start_unix": 1000.0, "requests": columns}


def events(start_s: float | None, end_s: float | None, stop_s: float) -> dict[str, Any]:
    steps = [("start", start_s), ("end", end_s), ("stop", stop_s)]
    return {
        "run": {"arch": "micro", "variant": "rolling", "workers": 2, "rep": 0},
        "config": {"warmup_s": 1.0},
        "services": ["score", "score-2"],
        "old_version": "1.0.0",
        "new_version": "2.0.0",
        "warmup_s": 1.0,
        "events": [{"event": e, "t_unix": 1000.0 + t} for e, t in steps if t is not None],
        "error": None,
    }


def test_figures_of_a_constructed_update() -> None:
    rows: list[tuple[str, float, float | None, int, str | None]] = [
        ("predict", 0.5, 5.0, 503, None),  # warm-up: not counted
        ("predict", 1.0, 10.0, 200, "1.0.0"),
        ("predict-batch", 1.5, 20.0, 200, "1.0.0"),
        ("validate", 2.0, 4.0, 200, None),
        ("predict", 2.2, 3.0, 503, None),  # during the deploy (2.0 .. 4.0)
        ("predict", 2.5, None, 0, None),  # shed
        ("predict", 3.0, 30.0, 200, "2.0.0"),
        ("predict", 3.5, 10.0, 200, "1.0.0"),  # the old replica's last answer
        ("predict-batch", 3.8, 10.0, 200, "features 1.0.0 + score 2.0.0"),
        ("predict", 4.5, 10.0, 200, "2.0.0"),
        ("predict", 5.5, 10.0, 200, "2.0.0"),  # after the stop: not counted
    ]
    job = {"key": "update/micro/rolling/rep0", "rate_rps": 10.0}
    figures = analysis.entry(ledger(rows), events(2.0, 4.0, 5.0), job)
    assert figures["measured_s"] == [1.0, 5.0]
    assert figures["requests"] == 9 and figures["failed"] == 2
    assert figures["failed_in_window"] == 2
    assert figures["endpoints"]["predict"] == {"requests": 4, "failed": 2, "success_rate": 0.5}
    assert figures["answers"] == {
        "1.0.0": 3,
        "2.0.0": 2,
        "features 1.0.0 + score 2.0.0": 1,
    }
    assert figures["mixed_answers"] == 1 and figures["mixed_batch_answers"] == 1
    # answers' times: first new at 3.03, last old at 3.51
    assert figures["first_new_s"] == pytest.approx(3.03)
    assert figures["last_old_s"] == pytest.approx(3.51)
    assert figures["overlap_s"] == pytest.approx(0.48)
    # successful predictions answered at 1.01, 1.52, 3.03, 3.51, 3.81, 4.51; the stop at 5.0
    assert figures["longest_gap_s"] == pytest.approx(1.51)
    assert figures["p99_before_ms"] == 20.0 and figures["p99_window_ms"] == 30.0
    assert figures["deploy_s"] == pytest.approx(2.0)
    # a deploy that never ended: its window runs to the end of the load
    unfinished = analysis.entry(ledger(rows), events(2.0, None, 5.0), job)
    assert unfinished["deploy_s"] is None and unfinished["failed_in_window"] == 2


def test_the_ledger_keeps_each_request_with_the_version_its_answer_named() -> None:
    """The load's one recording call hands every recorder the version; the ledger keeps it in
    its row, the histograms and counts stay what a plain Recorder makes of the same requests."""
    ledger = Ledger()
    ledger.reset(100.0, warmup_s=0.0)
    ledger.record("predict", 100.5, 100.5, 100.51, 200, True, None, False, "1.0.0")
    ledger.record("validate", 100.7, 100.7, 100.72, 200, True, version=None)
    ledger.record("predict", 101.2, 101.2, 101.23, 503, False, version=None)
    ledger.shed("predict", 101.5)
    rows = ledger.ledger_json()["requests"]
    assert rows["name"] == ["predict", "validate", "predict", "predict"]
    assert rows["version"] == ["1.0.0", None, None, None]
    assert rows["status"] == [200, 200, 503, SHED_STATUS]
    assert rows["ok"] == [True, True, False, False]
    assert rows["intended_s"] == [0.5, 0.7, 1.2, 1.5]
    assert rows["latency_ms"] == [
        pytest.approx(10.0),
        pytest.approx(20.0),
        pytest.approx(30.0),
        None,
    ]
    _, counts = ledger.window(range(0, 2))
    assert counts == {"sent": 4, "ok": 2, "failed": 1, "shed": 1}


UPDATE_CLAIM = "A part can be updated without stopping the whole application"


def deployed(arch: str, variant: str, failed: int, validate_ok: float = 1.0) -> dict[str, Any]:
    """A summary["update"] entry with `failed` requests failed during the deploy."""
    services = (
        ["monolith"] if arch == "monolith" else ["score", "score-2"][: 1 + (variant == "rolling")]
    )
    return {
        "arch": arch, "variant": variant, "rep": 0, "key": f"update/{arch}/{variant}/rep0",
        "services": services, "deploy_s": 2.0, "failed_in_window": failed,
        "endpoints": {
            "predict": {"requests": 100, "failed": failed, "success_rate": 1 - failed / 100},
            "validate": {"requests": 20, "failed": 0, "success_rate": validate_ok},
        },
        "longest_gap_s": 0.1, "p99_before_ms": 10.0, "p99_window_ms": 20.0,
        "overlap_s": 0.5, "mixed_answers": 0, "error": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("micro_validate", "micro_rolling_failed", "monolith_rolling_failed", "expected"),
    [
        (1.0, 0, 12, verdict.SUPPORTED),  # score alone updated, nothing lost rolling it
        (1.0, 0, 0, verdict.MIXED),  # the monolith's rolling reload lost nothing either
        (0.5, 3, 0, verdict.MIXED),  # validate stopped with score, the rolling update lost some
    ],
)
def test_the_verdict_flips_with_its_evidence(
    micro_validate: float, micro_rolling_failed: int, monolith_rolling_failed: int, expected: str
) -> None:
    entries = [
        deployed("monolith", "restart", 40, validate_ok=0.0),
        deployed("monolith", "rolling", monolith_rolling_failed),
        deployed("micro", "restart", 30, validate_ok=micro_validate),
        deployed("micro", "rolling", micro_rolling_failed),
    ]
    found = {
        v.claim: v for v in verdict.judge(constructed.run(constructed.summary(update=entries)))
    }
    judged = found[UPDATE_CLAIM]
    assert judged.verdict == expected
    assert any(
        line.startswith("micro restart (score, 2.0 s): 30 of 120") for line in judged.evidence
    )
    assert any(f"skip it answered {micro_validate:.0%}" in line for line in judged.evidence)
    without = verdict.judge(constructed.run(constructed.summary()))
    assert {v.claim: v.verdict for v in without}[UPDATE_CLAIM] == verdict.NOT_MEASURED


def test_a_new_version_keeps_the_preprocessing_and_a_mixed_answer_names_both(
    tmp_path: Path, model_dir: Path, records: list[dict[str, Any]]
) -> None:
    old = bundle.load(model_dir)
    new = bundle.load(new_version(model_dir, tmp_path / "new"))
    assert (old.version, new.version) == ("1.0.0", "2.0.0")
    assert new.schema == old.schema and new.features_version == old.version
    valid = stages.validate(old, stages.ingest(old, json.dumps({"records": records[:8]}).encode()))
    assert isinstance(valid, ValidBatch)
    made_old, made_new = stages.features(old, valid), stages.features(new, valid)
    assert made_old == made_new  # the same preprocessing: features need not restart
    assert stages.score(new, made_old).model_version == "2.0.0"
    # other weights: some probability differs
    assert stages.score(new, made_old).predictions != stages.score(old, made_old).predictions
    # a copy of a bundle archbench cannot refit: the same weights, another version
    bundle.reversioned(model_dir, tmp_path / "copy", "1.0.0+update")
    copied = bundle.load(tmp_path / "copy")
    assert (copied.version, copied.features_version) == ("1.0.0+update", "1.0.0")
    assert stages.score(copied, made_old).model_version == "1.0.0+update"
    # features made by another version's preprocessing than this model's: the answer names both
    other = bundle.ModelBundle(
        copied.schema, {**copied.metadata, "features_version": "0.9"}, copied.model
    )
    assert stages.score(other, made_old).model_version == "features 1.0.0 + score 1.0.0+update"


def test_a_replica_that_refuses_leaves_every_call_answered_and_comes_back_updated(
    tmp_path: Path, model_dir: Path, records: list[dict[str, Any]]
) -> None:
    """Each replica in turn is down (its port refuses, as while it restarts): a call that finds
    it so goes on to the other, so every answer is a 200; then it is restarted (stack.rollout)
    on the bundle the stack now serves, and answers with the new version."""
    base = free_base_port(start=24000, span=2 * PORT_BLOCK)
    current = tmp_path / "current"
    point(current, model_dir)
    settings = {"model_dir": str(current), "retry_refused": True}
    stack = Stack("micro", base, log_dir=tmp_path, settings=settings, replicas={"score": 2})
    body = json.dumps(records[0]).encode()
    with stack:
        ports = {s.port for s in stack.services}
        point(current, new_version(model_dir, tmp_path / "new"))
        for name in ("score", "score-2"):
            score = stack.processes[name]
            score.kill()  # down, and its port refuses: where a restart leaves a replica
            score.wait()
            statuses = [request(stack.url, "/predict", body).status for _ in range(10)]
            assert statuses == [200] * 10
            times = rollout.restart(stack, name)
            assert times["ready_unix"] >= times["spawned_unix"] and times["new_pid"] != score.pid
        stack.check_alive()
        versions = {
            json.loads(request(stack.url, "/predict", body).body)["model_version"] for _ in range(4)
        }
        assert versions == {"2.0.0"}
    assert not processes_on_ports(ports)


def test_without_the_retry_a_refused_replica_fails_its_calls(
    tmp_path: Path, model_dir: Path, records: list[dict[str, Any]]
) -> None:
    base = free_base_port(start=24500, span=2 * PORT_BLOCK)
    stack = Stack("micro", base, log_dir=tmp_path, replicas={"score": 2})
    body = json.dumps(records[0]).encode()
    with stack:
        stack.processes["score-2"].kill()
        stack.processes["score-2"].wait()
        statuses = [request(stack.url, "/predict", body).status for _ in range(10)]
    # round robin: every other call goes to the replica that is gone
    assert sorted(statuses) == [200] * 5 + [503] * 5


@pytest.mark.timeout(DEFAULT_RUN_TIMEOUT_S)  # the first reader of the default run makes it
def test_update_under_load_on_both_architectures(default_run: tuple[Path, str]) -> None:
    """The default run's four update runs (each variant on each architecture, the quick
    timeline: tests/bench/conftest.py), at the run's common load."""
    run, _ = default_run
    summary = json.loads((run / "summary.json").read_text())
    entries = {(e["arch"], e["variant"]): e for e in summary["update"]}
    assert set(entries) == {(a, v) for a in ("monolith", "micro") for v in ("restart", "rolling")}
    # every figure is recomputed from the raw per-request records by the same function
    assert analysis.entries(run) == summary["update"]
    for (arch, variant), entry in entries.items():
        raw = run / "raw" / entry["key"]
        rows = json.loads((raw / "requests.json").read_text())["requests"]
        assert len({len(column) for column in rows.values()}) == 1 and rows["name"]
        recorded = json.loads((raw / "events.json").read_text())
        steps = [e["event"] for e in recorded["events"]]
        # no batch answer mixes versions, nor any other
        assert entry["mixed_answers"] == 0 and entry["mixed_batch_answers"] == 0
        assert (entry["old_version"], entry["new_version"]) == ("1.0.0", "2.0.0")
        assert entry["answers"].get("1.0.0", 0) > 0  # the old version served before the deploy
        assert steps[0] == "start" and entry["requests"] > 0
        if recorded["error"] is None:
            assert steps[-2:] == ["end", "stop"]
            assert entry["answers"].get("2.0.0", 0) > 0  # and the new one after it
        expected = {
            ("monolith", "restart"): ["restarted"],
            ("monolith", "rolling"): ["reloaded"],
            ("micro", "restart"): ["restarted"],
            ("micro", "rolling"): ["restarted", "restarted"],
        }[(arch, variant)]
        if recorded["error"] is None:
            assert steps[1:-2] == expected
        assert entry["services"] == list(UpdateRun(arch, variant, UpdateConfig().workers).services)
    # a restarted monolith answers nothing while its one process starts again (a Python start
    # and the model's load: over a second, at the common load of tens of requests a second)
    assert entries[("monolith", "restart")]["failed_in_window"] > 0
