"""Real short bench runs against real stacks: complete result folders whose figures agree with
their raw data, an open-loop schedule that survives a stalled server, validity that fires when
the generator is starved, and Ctrl-C that keeps partial results and leaves nothing behind."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.analyse import capacity
from bench.analyse import runs as analysis
from bench.load.search import votes
from bench.measure import resources
from bench.run.locust_process import locust_command, start_locust, stop_group
from bench.store.folder import SCHEMA_VERSION
from pipeline.paths import ROOT
from stack.budget import generator_cpus, sut_cpus
from stack.runner import Stack
from stack.topology import Budget
from tests.bench.conftest import ARCHBENCH, bench
from tests.conftest import free_base_port, processes_on_ports


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_the_folder_is_complete(run_dir: Path) -> None:
    assert run_dir.name.endswith("-t")
    meta, summary = read(run_dir / "meta.json"), read(run_dir / "summary.json")
    assert meta["schema_version"] == summary["schema_version"] == SCHEMA_VERSION
    assert meta["config"]["archs"] == ["monolith", "micro"]
    assert meta["environment"]["git"]["commit"] and meta["environment"]["cpu_model"]
    assert meta["environment"]["packages"]["locust"]
    assert summary["status"] == "complete"
    scenarios, archs = ("capacity", "steady", "spike", "ramp"), ("monolith", "micro")
    expected = {f"{s}/{a}/rep0" for s in scenarios for a in archs}
    assert set(summary["runs"]) == expected
    for key, run in summary["runs"].items():
        raw = run_dir / "raw" / key
        files = ("latency.json", "samples.json", "locust.html", "locust_stats.csv", "locust.json")
        for name in files:
            assert (raw / name).stat().st_size > 0, (key, name)
        assert run["budget"]["mechanism"] == "cgroup-v1" and run["budget"]["cpu_quota"] == 1.0
        # the harness runs pinned to the generator's CPU; the stacks must not follow it there
        assert run["budget"]["cpus"] == sut_cpus(Budget()) == meta["cpus"]["sut"]
        assert not set(meta["cpus"]["sut"]) & set(meta["cpus"]["generator"])
        assert run["measured"]["all"]["ok"] > 0, key


def test_every_figure_agrees_with_the_raw_data(run_dir: Path) -> None:
    summary = read(run_dir / "summary.json")
    slo_ms = read(run_dir / "meta.json")["config"]["slo_ms"]
    for key, run in summary["runs"].items():
        record = read(run_dir / "raw" / key / "latency.json")
        start, end = record["measured_unix"]
        samples = read(run_dir / "raw" / key / "samples.json")
        figures = resources.derive(samples, start, end, analysis.answered(record))
        again = analysis.summarize(record, slo_ms, figures)
        for field in ("measured", "validity", "over_time", "stage_ms", "resources"):
            assert json.loads(json.dumps(again[field])) == run[field], (key, field)
        assert (
            analysis.answered(record)
            == run["measured"]["all"]["ok"] + run["measured"]["all"]["failed"]
        )
        assert run["resources"]["sut_foreign_share"] is not None
        assert run["resources"]["cpu_ms_per_request"] > 0
    lows = []
    for arch in ("monolith", "micro"):
        key = f"capacity/{arch}/rep0"
        run = summary["runs"][key]
        record = read(run_dir / "raw" / key / "latency.json")
        # every trial the Locust process judged while searching, re-judged from its bins alike
        trials = capacity.trials(record, slo_ms)
        assert [asdict(t) for t in trials] == record["trials"] == run["steps"]
        assert len(trials) >= 2 and run == {**run, **capacity.summarize(record, slo_ms)}
        # the capacity and its bracket, or the bound it is, agree with the trials
        bound, found, high = run["capacity_bound"], run["capacity_rps"], run["capacity_high_rps"]
        assert bound in ("exact", "lower", "upper")
        if bound == "exact":
            assert found is not None and high is not None and found < high
            assert votes(trials)[found] > 0
        if bound == "lower":  # nothing failed above it (a rate above may be undecided, cut short)
            margin = votes(trials)
            assert high is None and found == max(r for r, m in margin.items() if m > 0)
            assert not any(m < 0 for r, m in margin.items() if r > found)
        if bound == "upper":
            assert found is None and not any(t.passed for t in trials)
        assert run["saturation_rps"] == record["estimate_rps"] > 0
        # the machine's speed was measured beside the search, and the capacity is read against it
        calibration = read(run_dir / "raw" / key / "calibration.json")
        assert run["calibration_rps"] == calibration["pipeline_rps"] > 0
        # measured before and after the search, on the system-under-test CPU: their mean
        ends = [calibration[when]["pipeline_rps"] for when in ("before", "after")]
        assert calibration["pipeline_rps"] == pytest.approx(sum(ends) / 2)
        assert calibration["after"]["started_unix"] > record["measured_unix"][1] - 1
        if run["capacity_rps"] is not None:
            multiple = run["capacity_rps"] / calibration["pipeline_rps"]
            assert run["capacity_multiple"] == pytest.approx(multiple)
        lows.append(summary["by_arch"][arch]["capacity"]["capacity_rps"].get("low"))
    # the steady rate is the configured fraction of the lower end of the lower interval
    if all(lows):
        assert summary["rate_rps"] == pytest.approx(min(lows) * 0.5, abs=0.1)
    aggregate = summary["by_arch"]["micro"]["steady"]
    steady = summary["runs"]["steady/micro/rep0"]["measured"]["all"]
    assert aggregate["p99_ms"]["median"] == steady["intended_ms"]["p99"]


def test_locust_counted_the_same_requests(run_dir: Path) -> None:
    for arch in ("monolith", "micro"):
        raw = run_dir / "raw" / "steady" / arch / "rep0"
        record = read(raw / "latency.json")
        ours = sum(c["sent"] - c["shed"] for c in record["counts"])
        theirs = sum(s["num_requests"] for s in read(raw / "locust.json"))
        assert ours == theirs


@pytest.fixture(scope="module")
def monolith_stack(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    """One monolith for the disturbed steady runs: a stall (stopped, then continued) leaves it
    serving as before, and a starved generator never touches it."""
    logs = tmp_path_factory.mktemp("logs-disturbed")
    with Stack("monolith", free_base_port(), log_dir=logs) as stack:
        yield stack


def steady_run(stack: Stack, out: Path, disturb: Any, in_flight: int = 2) -> dict[str, Any]:
    """6 s at 100 req/s (after 1 s warm-up) from the generator CPU; `disturb()` 3 s into the
    schedule (timed from the schedule's own start mark, whatever Locust's start-up took)."""
    options: dict[str, object] = {
        "--scenario": "steady",
        "--rate": 100,
        "--duration": 6,
        "--warmup": 1,
        "--max-in-flight": in_flight,
        "--invalid-share": 0,
        "--record-file": out / "latency.json",
        "--exit-code-on-error": 0,
        "--only-summary": True,
    }
    argv = locust_command(stack.url, options)
    locust = start_locust(argv, generator_cpus(Budget()), out / "locust.log")
    try:
        started = schedule_start(out / "schedule.start", locust)
        # the warm-up, then two seconds of load
        time.sleep(max(0.0, started + 3.0 - time.time()))
        disturb(locust)
        locust.wait(timeout=40)
    finally:
        stop_group(locust)
    return read(out / "latency.json")


def schedule_start(mark: Path, locust: subprocess.Popen[bytes]) -> float:
    """The Unix time Locust's schedule started at, from the mark it writes (waited for)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and locust.poll() is None:
        try:
            return float(mark.read_text())
        except (FileNotFoundError, ValueError):  # not written yet, or half written
            time.sleep(0.05)
    raise AssertionError("Locust never started its schedule")


def test_a_stalled_server_shows_in_intended_latency_not_in_service_time(
    monolith_stack: Stack, tmp_path: Path
) -> None:
    pid = monolith_stack.pids()["monolith"]

    def stall(_: object) -> None:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.8)
        os.kill(pid, signal.SIGCONT)

    record = steady_run(monolith_stack, tmp_path, stall)
    bins = analysis.measured_bins(record)
    measured = analysis.window(record, bins)["all"]
    intended = analysis.merged(record, "intended", bins)
    service = analysis.merged(record, "service", bins)
    # ~80 requests were due during the stall: those due in its first 0.4 s waited at least
    # 400 ms, as the schedule says (Poisson: about 40 of them) ...
    assert slower_than(intended, 400) >= 20
    # ... but once sent, only the requests holding the two in-flight slots were slow: the
    # in-flight bound makes it so, whatever the machine's speed
    assert 1 <= slower_than(service, 400) <= 2
    # every request sent was answered correctly (a slow machine may shed some of the backlog)
    assert measured["failed"] == 0
    # the server stalled, not the generator: the waits for a slot count neither as a shortfall
    # nor as the generator's slip
    verdict = analysis.validity(record)
    assert record["capped"] >= 20
    assert not any("short of the scheduled" in r for r in verdict.reasons), verdict.reasons
    assert verdict.late_p99_ms is not None and verdict.late_p99_ms < 400


def slower_than(hist: Any, ms: float) -> int:
    """How many recorded latencies exceed `ms` (HDR histogram, microseconds)."""
    return sum(
        item.count_at_value_iterated_to
        for item in hist.get_recorded_iterator()
        if item.value_iterated_to > ms * 1000
    )


def test_a_starved_generator_makes_the_run_invalid(monolith_stack: Stack, tmp_path: Path) -> None:
    def starve(locust: subprocess.Popen[bytes]) -> None:
        os.kill(locust.pid, signal.SIGSTOP)
        time.sleep(0.5)
        os.kill(locust.pid, signal.SIGCONT)

    record = steady_run(monolith_stack, tmp_path, starve, in_flight=64)
    verdict = analysis.validity(record)
    assert not verdict.valid
    assert any("schedule slipped" in r for r in verdict.reasons), verdict.reasons


def test_ctrl_c_keeps_partial_results_and_leaves_nothing(tmp_path: Path, model_dir: Path) -> None:
    port = free_base_port()
    proc = subprocess.Popen(
        [
            *ARCHBENCH,
            "bench",
            "--quick",
            "--results-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--arch",
            "monolith",
            "--scenario",
            "steady,spike",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and run is None:
            # once the spike scenario runs, the steady one is complete
            spiking = list(tmp_path.glob("*/raw/spike/monolith/rep0/locust.log"))
            run = spiking[0].parents[4] if spiking else None
            time.sleep(0.2)
        assert run is not None, "the steady scenario never finished"
        time.sleep(3)  # the spike scenario is under way
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        # every process it started is gone within seconds; then it writes the report
        gone, alive = psutil.wait_procs(family, timeout=5)
        assert not alive
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "incomplete" in err
    assert not processes_on_ports({port})
    assert f"report: {run.resolve() / 'report.html'}" in out
    assert "This run is incomplete (interrupted)" in (run / "report.md").read_text()
    summary = read(run / "summary.json")
    assert summary["status"] == "incomplete" and summary["reason"] == "interrupted"
    assert summary["runs"]["steady/monolith/rep0"]["measured"]["all"]["ok"] > 0
    # the interrupted scenario keeps what it gathered, marked as not complete
    assert (
        "the scenario did not complete"
        in summary["runs"]["spike/monolith/rep0"]["validity"]["reasons"]
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--scenario", "spik"], "unknown scenario 'spik'; choose from: capacity, steady, spike"),
        (["--arch", "macro"], "unknown architecture 'macro'; choose from: monolith, micro"),
        (["--repeat", "0"], "--repeat must be greater than 0"),
        (["--slo-ms", "x"], "invalid float value: 'x'"),
    ],
)
def test_bad_bench_flags_get_one_line(tmp_path: Path, flags: list[str], expected: str) -> None:
    done = bench(tmp_path, free_base_port(), *flags)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # nothing written for a mistake


def test_the_run_never_imports_the_self_checks() -> None:
    """bench.selfcheck sits beside the rooms of the data flow: the harness is handed the Docker
    run's bridge measurement by the command (archbench.commands.bench), it does not import it."""
    imported = set()
    for path in (ROOT / "bench" / "run").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
    assert "bench.run.driver.Driver" in imported  # the walk sees the harness's own imports
    assert not {m for m in imported if m.startswith("bench.selfcheck")}
