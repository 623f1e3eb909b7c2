"""Locust's master and two real worker processes against a real stack on loopback: the master's
record is the exact merge of the workers' (counts sum, percentiles from added histograms), the
run is valid, a stopped worker makes it invalid without leaving a process behind, the capacity
search splits each trial between them; and `loadperf --workers` counts answers, at the floor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.analyse import capacity
from bench.analyse import runs as analysis
from bench.load.distributed_records import worker_seed
from bench.load.search import Trial, format_capacity, next_rate, outcome
from bench.measure import latency
from bench.run.locust_process import (
    LOCUSTFILE,
    distribution,
    free_port,
    locust_command,
    start_locust,
    stop_group,
)
from bench.selfcheck.loadperf.generators import generator_run, generator_runs, lines
from bench.selfcheck.loadperf.result import LoadPerfConfig
from bench.selfcheck.perf.floor import FloorServer
from stack.budget import generator_cpus
from stack.runner import Stack
from stack.topology import Budget
from tests.bench.conftest import ARCHBENCH
from tests.bench.test_ui import (
    get_json,
    output,
    swarm,
    template_args,
    ui_process,
    wait_until,
)
from tests.conftest import free_base_port, request

RATE_RPS = 60.0
MERGED_RUN_S = 2.0
# A short search: what is checked is its structure, not the capacity it finds.
SEARCH_OPTIONS: dict[str, object] = {
    "--scenario": "capacity",
    "--probe-duration": 1,
    "--warmup": 1,
    "--step-duration": 1,
    "--trial-max-duration": 1,
    "--trial-requests": 100,
    "--max-trials": 4,
    "--search-tolerance": 0.3,
    "--payload-seed": 5,
}


def read(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    with Stack("monolith", free_base_port(), log_dir=tmp_path_factory.mktemp("logs")) as stack:
        yield stack


def start(stack: Stack, out: Path, scenario: dict[str, object]) -> subprocess.Popen[bytes]:
    """A master and two forked workers driving a scenario, records into `out`."""
    options: dict[str, object] = {
        "--invalid-share": 0,
        "--payload-seed": 3,
        **scenario,
        "--record-file": out / "latency.json",
        "--exit-code-on-error": 0,
        "--only-summary": True,
        "--loglevel": "INFO",  # the master logs each worker it sees ready
        **distribution(2),
    }
    return start_locust(locust_command(stack.url, options), generator_cpus(Budget()), out / "log")


def finish(locust: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    """Wait for the master to end on its own; whatever happens, leave no process behind."""
    group = os.getpgid(locust.pid)
    try:
        locust.wait(timeout=timeout_s)
    finally:
        stop_group(locust)
    assert not [p for p in psutil.process_iter() if _in_group(p, group)]


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


def values(hist: Any) -> list[int]:
    """Every latency a histogram holds (at HDR precision), in order."""
    out: list[int] = []
    for item in hist.get_recorded_iterator():
        out += [item.value_iterated_to] * item.count_added_in_this_iter_step
    return sorted(out)


def percentile(pooled: list[int], p: float) -> int:
    """The value at the p-th percentile's rank, ranked as HDR histograms rank it (the nearest
    rank, halves up): over a few hundred values a sparse tail's neighbours differ."""
    rank = max(1, int(len(pooled) * p / 100 + 0.5))
    return pooled[rank - 1]


def test_two_workers_merge_exactly_into_a_valid_run(stack: Stack, tmp_path: Path) -> None:
    steady = {"--scenario": "steady", "--rate": RATE_RPS, "--duration": MERGED_RUN_S, "--warmup": 1}
    finish(start(stack, tmp_path, steady))
    merged = read(tmp_path / "latency.json")
    workers = [read(tmp_path / "workers" / f"worker-{i}.json") for i in (0, 1)]
    # each worker ran a Poisson process at half the rate, from a seed of its own
    assert {w["schedule"]["steps"][0]["rate"] for w in workers} == {RATE_RPS / 2}
    assert [w["payload_seed"] for w in workers] == [worker_seed(3, 0), worker_seed(3, 1)]
    assert merged["schedule"]["steps"][0]["rate"] == RATE_RPS
    # the merged request count is the sum of the workers' counts, bin by bin and in all
    for key in ("sent", "ok", "failed", "shed"):
        assert sum(c[key] for c in merged["counts"]) == sum(
            c[key] for w in workers for c in w["counts"]
        )
    sent = sum(c["sent"] for c in merged["counts"])
    assert sent > 0.5 * RATE_RPS * (MERGED_RUN_S + 1)  # both workers sent their share
    assert all(sum(c["sent"] for c in w["counts"]) > 0 for w in workers)
    # percentiles of the merged histogram are those of the pooled latencies, not an average
    bins = analysis.all_bins(merged)
    pooled = sorted(
        v for w in workers for v in values(analysis.merged(w, "intended", analysis.all_bins(w)))
    )
    hist = analysis.merged(merged, "intended", bins)
    assert hist.get_total_count() == len(pooled)
    for p in (50.0, 99.0):
        assert hist.get_value_at_percentile(p) == pytest.approx(percentile(pooled, p), rel=1e-3)
    summary = latency.summary_ms(hist)
    assert summary["count"] == len(pooled)
    # valid: both workers reported a complete schedule at their rate within their CPU (a send
    # slip on this shared VM is the machine's noise, which the analysis tests judge on data)
    verdict = analysis.validity(merged)
    assert [r for r in verdict.reasons if "schedule slipped" not in r] == []
    assert merged["completed"] and [w["missing"] for w in merged["workers"]] == [False, False]


def test_a_stopped_worker_ends_the_search_and_makes_the_run_invalid(
    stack: Stack, tmp_path: Path
) -> None:
    locust = start(stack, tmp_path, SEARCH_OPTIONS)
    try:
        deadline = time.monotonic() + 60
        while "2 workers connected" not in (tmp_path / "log").read_text():
            assert time.monotonic() < deadline and locust.poll() is None, "workers never ready"
            time.sleep(0.1)
        stopped = psutil.Process(locust.pid).children()[0]
        os.kill(stopped.pid, signal.SIGSTOP)
    finally:
        # the master ends on its own: the stopped worker goes missing, the other reports
        finish(locust)
    merged = read(tmp_path / "latency.json")
    missing = [w for w in merged["workers"] if w["missing"]]
    assert len(missing) == 1
    assert stopped.pid not in [w.get("pid") for w in merged["workers"]]
    verdict = analysis.validity(merged)
    assert not verdict.valid
    index = missing[0]["worker_index"]
    assert f"worker {index} sent no record (stopped, lost or cut short)" in verdict.reasons
    # the master's search stopped without it and says so (tests/bench/test_worker_records.py
    # checks that the whole then falls short by the missing worker's share)
    assert not merged["completed"]
    assert "the capacity search stopped" in (tmp_path / "log").read_text()


def test_the_web_ui_drives_two_workers_through_a_search_with_our_shapes(tmp_path: Path) -> None:
    base_port, web_port = free_base_port(), free_base_port(span=1)
    web = f"http://127.0.0.1:{web_port}"
    with ui_process("monolith", base_port, web_port, tmp_path, workers=2) as proc:
        wait_until(lambda: f"Locust UI at {web}" in output(tmp_path), "the UI's line", 90)
        family = psutil.Process(proc.pid).children(recursive=True)
        page = template_args(request(web, "/", method="GET", content_type=None).body.decode())
        assert page["extendedTabs"] == [{"key": "resources", "title": "Resources"}]
        assert "Steady" in page["available_shape_classes"]
        wait_until(lambda: get_json(web, "/stats/requests")["worker_count"] == 2, "workers", 30)
        # a short capacity search, split between the two workers by the master
        options = {k.lstrip("-").replace("-", "_"): v for k, v in SEARCH_OPTIONS.items()}
        swarm(web, "Capacity", **{**options, "max_trials": 2, "warmup": 0})
        # the shape ends once both workers have sent their share (Locust merges its own stats)
        wait_until(lambda: get_json(web, "/stats/requests")["state"] == "stopped", "the end", 60)
        stats = get_json(web, "/stats/requests")
        assert stats["stats"][-1]["num_requests"] > 0
        assert {r["name"] for r in stats["extended_stats"][0]["data"]} == {"monolith"}
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.returncode == 0, output(tmp_path)
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not alive


def test_ctrl_c_stops_the_master_and_every_worker(tmp_path: Path, model_dir: Path) -> None:
    port = free_base_port()
    flags = ["--arch", "monolith", "--scenario", "steady", "--duration", "60", "--rate", "20"]
    proc = subprocess.Popen(
        [*ARCHBENCH, "bench", "--quick", "--workers", "2", "--results-dir", str(tmp_path)]
        + ["--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def workers_sending() -> list[psutil.Process] | None:
            marks = list(tmp_path.glob("*/raw/steady/monolith/rep0/schedule.start"))
            family = psutil.Process(proc.pid).children(recursive=True)
            masters = [p for p in family if "locust" in " ".join(p.cmdline())]
            return family if marks and len(masters) == 3 else None  # the master and 2 workers

        family = wait_until(workers_sending, "the workers' schedules", 90)
        proc.send_signal(signal.SIGINT)
        _, alive = psutil.wait_procs(family, timeout=30)
        assert not alive
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    raw = next(tmp_path.glob("*/raw/steady/monolith/rep0"))
    # the workers' partial records were gathered and merged, marked as not complete
    merged = read(raw / "latency.json")
    assert not merged["completed"]
    assert sorted(p.name for p in (raw / "workers").iterdir()) == ["worker-0.json", "worker-1.json"]


def test_workers_started_elsewhere_run_the_capacity_search_with_a_master(
    stack: Stack, tmp_path: Path
) -> None:
    # The --master-bind path: the master forks nothing and waits; the workers are started the
    # way the README says for another machine (here on loopback), two of them by --processes.
    port = free_port()
    options = {
        **SEARCH_OPTIONS,
        "--record-file": tmp_path / "latency.json",
        "--exit-code-on-error": 0,
        "--only-summary": True,
        **distribution(2, f"127.0.0.1:{port}"),
    }
    master = start_locust(
        locust_command(stack.url, options), generator_cpus(Budget()), tmp_path / "m"
    )
    worker_argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    worker_argv += ["--master-host", "127.0.0.1", "--master-port", str(port), "--processes", "2"]
    workers = start_locust(worker_argv, generator_cpus(Budget()), tmp_path / "w")
    try:
        finish(master)
        workers.wait(timeout=30)
    finally:
        stop_group(workers)
    merged = read(tmp_path / "latency.json")
    parts = [read(tmp_path / "workers" / f"worker-{i}.json") for i in (0, 1)]
    assert [w["missing"] for w in merged["workers"]] == [False, False]
    assert merged["completed"], (tmp_path / "m").read_text()[-2000:]
    config = capacity.search_config(merged, 100.0)
    trials = [Trial(**t) for t in merged["trials"]]
    assert 1 <= len(trials) <= 4 and merged["estimate_rps"] > 0
    # every rate is the one the search's own rule chose from the trials before it
    for n, trial in enumerate(trials):
        wanted = next_rate(trials[:n], merged["estimate_rps"], config)
        assert wanted is not None and trial.rate == round(wanted, 3)
    assert next_rate(trials, merged["estimate_rps"], config) is None
    # each trial's load was split between the workers, whose counts sum to the trial's, in the
    # master's judgement, in the merged record and in the workers' own records alike
    schedule = analysis.schedule_of(merged)
    assert schedule is not None
    steps = [s for s in schedule.steps if s.rate > 0 and s.end_s > schedule.warmup_s]
    assert [s.rate for s in steps] == [t.rate for t in trials]
    for trial, step, split in zip(trials, steps, merged["trial_workers"], strict=True):
        assert all(part["sent"] > 0 and part["cpu_share"] >= 0 for part in split)
        assert sum(part["sent"] for part in split) == trial.requests
        bins = analysis.measured_bins(merged, step.start_s, step.end_s)
        assert analysis.counts(merged, bins)["sent"] == trial.requests
        assert sum(analysis.counts(p, bins)["sent"] for p in parts) == trial.requests
        assert {p_step["rate"] for p in parts for p_step in p["schedule"]["steps"]
                if p_step["start_s"] == step.start_s} == {step.rate / 2}  # fmt: skip
    # the analysis re-judges every trial from the merged histograms as the master did
    assert [t.passed for t in capacity.trials(merged, 100.0)] == [t.passed for t in trials]
    found = outcome(trials, config)
    assert found.bound in ("exact", "lower", "upper")
    shown = format_capacity(found.capacity_rps, found.bound)
    assert shown.startswith("≥ ") if found.bound == "lower" else shown[0].isdigit() or shown == "–"
    assert capacity.summarize(merged, 100.0)["capacity_bound"] == found.bound


# The slow server answers one request at a time, each after this long.
SLOW_S = 0.02


class SlowHandler(BaseHTTPRequestHandler):
    """Answers 200 after SLOW_S, one request at a time (keep-alive), counting its answers."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    answered = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with SlowHandler.lock:
            time.sleep(SLOW_S)
            SlowHandler.answered += 1
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


def test_loadperf_counts_what_was_answered_not_what_was_sent(tmp_path: Path) -> None:
    # Two workers offered far more than a server that answers 50 req/s at most: they send (and
    # shed) what was scheduled; what they achieved is what came back.
    server = ThreadingHTTPServer(("127.0.0.1", free_base_port(span=1)), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    config = LoadPerfConfig(cost_s=2, cost_warmup_s=1, worker_rate=150, max_in_flight=4)
    try:
        run = generator_run(url, tmp_path / "run", config, 2, generator_cpus(Budget()), 0.0)
    finally:
        server.shutdown()
        server.server_close()
    record = read(tmp_path / "run" / "latency.json")
    bins = analysis.measured_bins(record)
    span_s = len(bins) * record["bin_s"]
    answers = analysis.counts(record, bins)["ok"]
    assert run.answered_rps == answers / span_s
    # never more than the server answered, nor than it can answer in the window (and the
    # second a shed request may wait past it)
    assert answers <= SlowHandler.answered
    assert answers <= (span_s + 1.5) / SLOW_S
    assert run.sent_rps is not None and run.sent_rps > 2 * run.answered_rps
    # every worker's CPU is per answer it received
    assert len(run.us_per_request) == 2 and all(u and u > 0 for u in run.us_per_request)
    line = lines([run], [0], [1])[1]
    assert f"answered {run.answered_rps:,.0f} req/s (sent {run.sent_rps:,.0f})" in line


def test_loadperf_measures_the_generator_against_the_floor_server(tmp_path: Path) -> None:
    # a small rate: what is checked is where the load goes and that its figures come back
    config = LoadPerfConfig(cost_s=2, cost_warmup_s=1, worker_rate=200, wrk_s=1, workers=(1,))
    with FloorServer(free_base_port(span=1), Budget(), tmp_path / "floor.log") as floor:
        runs = generator_runs(floor, tmp_path, config, generator_cpus(Budget()), lambda _: None)
        assert floor.url in runs[0].command and runs[0].wrk_rps > 0
    assert runs[0].answered_rps and runs[0].us_per_request[0]
    assert runs[0].target_cpu_share is None or runs[0].target_cpu_share > 0
    cores = lines(runs, [0], [1])[0]
    assert "up to 1 worker(s), one per core" in cores and "so here 2 or more" in cores
