"""Fault runs: the plan, the figures of a constructed record (no sleeping), the crash of a stage
under load in a real short default run, and a real short `archbench bench --scenario faults`
interrupted while a stage is frozen, that leaves nothing behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.analyse import isolation
from bench.analyse import runs as analysis
from bench.load import shapes
from bench.measure import resources
from bench.measure.latency import Recorder
from bench.run.faults import FaultConfig, plan, stacks_of
from tests.bench.conftest import DEFAULT_RUN_TIMEOUT_S
from tests.conftest import free_base_port, processes_on_ports

ARCHBENCH = [sys.executable, "-m", "archbench"]
ENTRY_KEYS = {
    "arch",
    "fault",
    "stage",
    "resilience",
    "rep",
    "rate_rps",
    "fault_window_s",
    "restart_s",
    "killed_by_memory_limit",
    "endpoints",
    "kept_serving",
    "timeline",
    "validity",
}
ENDPOINT_KEYS = {
    "needs_stage",
    "requests",
    "failed",
    "success_rate_during_fault",
    "success_rate_overall",
    "time_to_first_error_s",
    "recovery_s",
    "p99_during_fault_ms",
}


def test_the_default_profile_is_small_and_the_full_one_is_the_whole_matrix() -> None:
    runs = plan(FaultConfig(), ("monolith", "micro"), "default")
    assert [(r.arch, r.fault, r.stage, r.resilience) for r in runs] == [
        ("monolith", "crash", "score", False),
        ("monolith", "slow", "score", False),
        ("micro", "crash", "score", False),
        ("micro", "slow", "score", False),
    ]
    full = plan(FaultConfig(), ("monolith", "micro"), "full")
    # 5 faults x 4 stages; the monolith has no gateway, so no resilience patterns to switch on
    assert len(full) == 20 + 40 and len({r.key for r in full}) == 60
    assert [(g[0].arch, g[0].resilience, len(g)) for g in stacks_of(full)] == [
        ("monolith", False, 20),
        ("micro", False, 20),
        ("micro", True, 20),
    ]
    assert full[-1].key == "faults/micro/leak-score-resilient/rep0"


def record_with_fault(latency_s: Any, failing: Any) -> dict[str, Any]:
    """1 s of warm-up then 10 s of 100 req/s, alternating predict and validate."""
    schedule = shapes.steady(rate=100, duration_s=10, warmup_s=1)
    recorder = Recorder()
    recorder.reset(500.0, schedule.warmup_s)
    for i, t in enumerate(shapes.arrivals(schedule, 3)):
        name = "predict" if i % 2 else "validate"
        done = 500.0 + t + latency_s(name, t)
        ok = not failing(name, t)
        recorder.record(name, 500.0 + t, 500.0 + t, done, 200 if ok else 503, ok)
    return recorder.to_json(
        scenario="steady",
        schedule=schedule.to_json(),
        payload_seed=3,
        generator_cpu_s=1.0,
        measured_wall_s=10.0,
        completed=True,
    )


def injection(start: float, end: float) -> dict[str, Any]:
    origin = 1_000_000.0
    return {
        "run": {"arch": "micro", "fault": "hang", "stage": "score", "resilience": False, "rep": 0},
        "config": {"slow_ms": 1.0, "error_share": 0.3, "leak_mib_per_s": 1.0},
        "schedule_start_unix": origin,
        "warmup_s": 1.0,
        "events": [
            {"event": "start", "t_unix": origin + start},
            {"event": "end", "t_unix": origin + end},
        ],
    }


def test_the_figures_of_a_fault_come_from_the_record() -> None:
    # predict fails from 4.0 s to 6.0 s; validate is slow (150 ms) from 4.5 s to 7.2 s
    record = record_with_fault(
        lambda name, t: 0.150 if name == "validate" and 4.5 <= t < 7.2 else 0.004,
        lambda name, t: name == "predict" and 4.0 <= t < 6.0,
    )
    entry = isolation.entry(record, injection(4.0, 6.0), slo_ms=100.0, rate_rps=100.0)
    assert set(entry) >= ENTRY_KEYS and entry["fault_window_s"] == [3.0, 5.0]
    predict, validate = entry["endpoints"]["predict"], entry["endpoints"]["validate"]
    assert set(predict) >= ENDPOINT_KEYS
    assert predict["needs_stage"] and not validate["needs_stage"]
    assert predict["success_rate_during_fault"] == 0.0
    assert 0 <= predict["time_to_first_error_s"] < 0.1
    assert predict["recovery_s"] == 0.0  # the bin starting at the end is clean again
    assert predict["failed"] == len(record["failure_times_s"]["predict"]) > 0
    # validate answered everything, but late: it did not keep serving
    assert validate["success_rate_during_fault"] == 1.0 and validate["failed"] == 0
    assert validate["p99_during_fault_ms"] == pytest.approx(150, abs=1)
    assert entry["kept_serving"] == {"validate": False}
    assert validate["recovery_s"] == pytest.approx(2.0)  # first clean bin: 8 s
    assert {r["name"] for r in entry["timeline"]} == {"predict", "validate"}
    assert len(entry["timeline"]) == 2 * 10 and entry["timeline"][0]["t_s"] == 0.0
    quiet = record_with_fault(lambda name, t: 0.004, lambda name, t: name == "predict" and t >= 4)
    entry = isolation.entry(quiet, injection(4.0, 6.0), slo_ms=100.0, rate_rps=100.0)
    assert entry["kept_serving"] == {"validate": True}
    assert entry["endpoints"]["predict"]["recovery_s"] is None  # never came back


def bench(results: Path, port: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ARCHBENCH, "bench", "--quick", "--scenario", "faults", "--results-dir", str(results)]
        + ["--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(DEFAULT_RUN_TIMEOUT_S)  # the first reader of the default run makes it
def test_a_crashed_score_stops_the_monolith_but_not_validate_in_micro(
    default_run: tuple[Path, str],
) -> None:
    """The default run's fault runs: the quick profile's one fault, a crash of score, on each
    architecture at the run's common load, with a tail long enough for the restart
    (tests/bench/conftest.py). What is measured here is who kept answering and the time to come
    back, not latency, so the SLO's verdicts are not asserted."""
    run, out = default_run
    assert "failure isolation" in out
    summary = json.loads((run / "summary.json").read_text())
    slo_ms = json.loads((run / "meta.json").read_text())["config"]["slo_ms"]
    monolith, micro = summary["faults"]
    assert (monolith["arch"], micro["arch"]) == ("monolith", "micro")
    for entry in (monolith, micro):
        assert set(entry) >= ENTRY_KEYS and entry["fault"] == "crash"
        assert entry["stage"] == "score" and entry["resilience"] is False
        start, end = entry["fault_window_s"]
        assert 1.5 < start < 3 and end - start == pytest.approx(entry["restart_s"])
        # it came back (the runner's ready wait bounds how long it may take)
        assert 0 < entry["restart_s"] < 60
        predict = entry["endpoints"]["predict"]
        assert predict["needs_stage"] and predict["success_rate_during_fault"] < 0.9
        assert predict["time_to_first_error_s"] is not None
        # the figures are derived from the raw files, by the same function
        raw = run / "raw" / entry["key"]
        record = json.loads((raw / "latency.json").read_text())
        events = json.loads((raw / "events.json").read_text())
        start_unix, end_unix = record["measured_unix"]
        samples = json.loads((raw / "samples.json").read_text())
        figures = resources.derive(samples, start_unix, end_unix, analysis.answered(record))
        again = isolation.entry(record, events, slo_ms, summary["rate_rps"], figures, entry["key"])
        assert json.loads(json.dumps(again)) == entry
        # the process really was killed, and another one took its place
        first, last = events["events"]
        assert first["pid"] == last["restart"]["old_pid"] != last["restart"]["new_pid"]
        assert last["restart"]["exit_code"] == -signal.SIGKILL
    # the monolith is the process hosting score: validate went down with it
    assert monolith["kept_serving"] == {"validate": False}
    assert monolith["endpoints"]["validate"]["success_rate_during_fault"] < 0.9
    # in micro it is the score service alone: validate never needed it and never failed (whether
    # it also stayed within the SLO is the machine's speed, so not asserted here)
    assert set(micro["kept_serving"]) == {"validate"}
    assert micro["endpoints"]["validate"]["failed"] == 0


def test_ctrl_c_during_a_hang_resumes_and_stops_everything(tmp_path: Path, model_dir: Path) -> None:
    port = free_base_port()
    proc = bench(tmp_path, port, "--arch", "monolith", "--fault", "hang", "--rate", "40")
    try:
        frozen = None
        deadline = time.monotonic() + 60
        while frozen is None and time.monotonic() < deadline:
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if child.status() == psutil.STATUS_STOPPED:
                        frozen = child
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.05)
        assert frozen is not None, "the monolith was never frozen"
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - started < 8
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    gone, alive = psutil.wait_procs(family, timeout=2)
    assert not alive
    assert not processes_on_ports({port})
    summary = json.loads(((tmp_path / "latest").resolve() / "summary.json").read_text())
    assert summary["status"] == "incomplete" and summary["reason"] == "interrupted"
    (entry,) = summary["faults"]
    assert entry["fault"] == "hang" and entry["fault_window_s"][0] is not None
    assert not entry["validity"]["valid"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--fault", "crsh"], "unknown fault 'crsh'; choose from: crash, hang, slow, errors, leak"),
        (["--fault-stage", "scoring"], "unknown stage 'scoring'; choose from: ingest, validate"),
        (["--profile", "fast"], "unknown profile 'fast'; choose from: default, full"),
        (["--resilience", "maybe"], "unknown resilience mode 'maybe'; choose from: off, on"),
        (["--scenario", "fault"], "unknown scenario 'fault'; choose from: capacity, steady"),
        (["--fault-error-share", "2"], "--fault-error-share must be between 0 and 1, not 2.0"),
    ],
)
def test_bad_fault_flags_get_one_line(tmp_path: Path, flags: list[str], expected: str) -> None:
    done = subprocess.run(
        [*ARCHBENCH, "bench", "--results-dir", str(tmp_path), "--port", str(free_base_port())]
        + flags,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())
