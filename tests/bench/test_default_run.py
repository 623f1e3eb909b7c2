"""The default run's scenarios, in the quick profile's short form, on a real run: every claim is
measured (no verdict reads "not measured"), the scaling part measures one replica count against
one worker count, the framework part runs micro-flask beside micro from its raw files, and both
the report and the end of the run's output give the bottom line first."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import verdict
from bench.analyse.bottomline import bottom_line
from bench.analyse.summary import job_summary
from bench.config import DEFAULT_SCENARIOS, BenchConfig, ConfigError
from bench.report.page import REPORT_MD
from bench.run.harness import Bench
from bench.run.progress import Display
from bench.store.stored import open_run
from tests.bench.conftest import DEFAULT_RUN_TIMEOUT_S
from tests.bench.markdown import md_section, md_tables

# The default run (tests/bench/conftest.py) is made by the first test that reads it.
pytestmark = pytest.mark.timeout(DEFAULT_RUN_TIMEOUT_S)


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_the_default_run_measures_every_claim(default_run: tuple[Path, str]) -> None:
    path, _ = default_run
    assert tuple(read(path / "meta.json")["config"]["scenarios"]) == DEFAULT_SCENARIOS
    rows = md_tables((path / REPORT_MD).read_text())["Verdict on the claims"][1:]
    assert [row[0] for row in rows] == [claim for claim, _, _ in verdict.CLAIMS]
    assert not [row for row in rows if verdict.NOT_MEASURED in row[3]]


def test_scaling_is_one_replica_count_against_one_worker_count(
    default_run: tuple[Path, str],
) -> None:
    path, _ = default_run
    scaling = read(path / "summary.json")["scaling"]
    assert {a: [(p["replicas"], p["scaled"]) for p in points] for a, points in scaling.items()} == {
        "monolith": [(1, "monolith-workers"), (2, "monolith-workers")],
        "micro": [(1, "score"), (2, "score")],
    }
    # measured once each; the one-replica point is the run's own first capacity search
    for points in scaling.values():
        assert [r["rep"] for p in points for r in p["runs"]] == [0, 0]
        assert points[0]["runs"][0]["raw"].startswith("raw/capacity/")


def test_the_framework_part_is_micro_flask_at_the_common_load(
    default_run: tuple[Path, str],
) -> None:
    path, _ = default_run
    summary = read(path / "summary.json")
    raw = path / "raw" / "framework" / "micro-flask" / "rep0" / "steady"
    job = read(raw / "job.json")
    assert (job["arch"], job["scenario"], job["part"]) == ("micro-flask", "steady", "framework")
    assert job["rate_rps"] == summary["rate_rps"]
    assert summary["framework"]["runs"] == {"steady/micro-flask/rep0": job_summary(raw, 100.0)}
    p99 = summary["framework"]["by_arch"]["micro-flask"]["steady"]["p99_ms"]["median"]
    evidence = {v.claim: v for v in verdict.judge(open_run(path))}[verdict.CLAIMS[3][0]].evidence
    assert f"p99 {p99:.1f} ms" in evidence[0]


def test_the_bottom_line_opens_the_report_and_ends_the_output(
    default_run: tuple[Path, str],
) -> None:
    path, stdout = default_run
    markdown = (path / REPORT_MD).read_text()
    titles = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert titles[:2] == ["The answer first", "This run"]
    sentences = bottom_line(open_run(path)).sentences
    assert md_section(markdown, "The answer first").strip().split("\n\n") == list(sentences)
    # printed last, each sentence whole (the console does not wrap a piped line at 160)
    flat = " ".join(stdout.split())
    tail = flat[flat.index("bottom line") :]
    for sentence in sentences:
        assert " ".join(sentence.split()) in tail
    assert "what the article says of large organisations is neither supported" in tail


def test_the_default_profile_has_every_claims_experiment_and_the_full_one_goes_deeper(
    model_dir: Path,
) -> None:
    default = BenchConfig().check()
    assert set(default.scenarios) >= {"capacity", "steady", "faults", "scaling", "framework"}
    assert not default.runs("sweep") and not default.runs("ramp")
    assert default.scaling_points() == ((1, 2), 1)
    assert replace(default, scaling_replicas=(1, 4)).scaling_points() == ((1, 4), 1)
    full = replace(default, profile="full", scenarios=("capacity",))
    assert full.runs("scaling") and full.runs("sweep") and full.runs("framework")
    assert full.scaling_points() == ((1, 2, 3), 3)
    # the spike, which no verdict reads, once per architecture but in the full profile
    assert (default.repeats("spike"), default.repeats("steady"), full.repeats("spike")) == (1, 3, 3)


def test_on_docker_the_default_run_leaves_scaling_out_and_an_explicit_one_is_refused(
    model_dir: Path,
) -> None:
    docker = replace(BenchConfig(), backend="docker").check()
    assert "scaling" not in docker.scenarios and "framework" in docker.scenarios
    with pytest.raises(ConfigError, match="one replica per service: no scaling part"):
        replace(BenchConfig(), backend="docker", scenarios=("capacity", "scaling")).check()


def test_with_workers_the_default_run_keeps_the_locust_scenarios_capacity_first(
    model_dir: Path,
) -> None:
    workers = replace(BenchConfig(), workers=2).check()
    assert workers.scenarios == ("capacity", "steady", "spike")
    assert workers.workers_note().startswith("--workers: faults, update, scaling, framework not")
    with pytest.raises(ConfigError, match="capacity, steady, spike scenarios only, not faults"):
        replace(BenchConfig(), workers=2, scenarios=("capacity", "faults")).check()


def test_the_spike_runs_in_the_first_repetition_only(model_dir: Path, tmp_path: Path) -> None:
    bench = Bench(BenchConfig(), Display(), tmp_path)
    assert bench._jobs(["steady", "spike"]) == [
        ("monolith", 0, ["steady", "spike"]),
        ("micro", 0, ["steady", "spike"]),
        ("micro", 1, ["steady"]),
        ("monolith", 1, ["steady"]),
        ("monolith", 2, ["steady"]),
        ("micro", 2, ["steady"]),
    ]
