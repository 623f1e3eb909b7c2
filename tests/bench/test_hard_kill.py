"""A real `archbench bench` killed with SIGKILL mid-run: no process outlives it, and its folder
still gives a report, rebuilt from the complete raw runs and marked incomplete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.bench.conftest import ARCHBENCH
from tests.conftest import free_base_port, processes_on_ports

WAIT_FOR_RAW_S = 180.0
GONE_WITHIN_S = 5.0


def mentioning(text: str) -> list[psutil.Process]:
    """Processes whose command line mentions `text` (Locust's names the run folder)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(text in arg for arg in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_a_killed_bench_leaves_no_process_and_its_folder_reports(
    tmp_path: Path, model_dir: Path
) -> None:
    results, port = tmp_path / "results", free_base_port()
    flags = ["--quick", "--arch", "monolith", "--scenario", "steady", "--duration", "3"]
    flags += ["--repeat", "3", "--rate", "40", "--label", "killed"]
    harness = subprocess.Popen(
        [*ARCHBENCH, "bench", *flags, "--results-dir", str(results), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = results / "latest" / "raw" / "steady" / "monolith" / "rep0" / "samples.json"
        deadline = time.monotonic() + WAIT_FOR_RAW_S
        while not first.exists():
            assert harness.poll() is None, "the bench ended before its first run was complete"
            assert time.monotonic() < deadline, "no complete raw run within the time limit"
            time.sleep(0.2)
        folder = (results / "latest").resolve()
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait(timeout=10)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    ports = {port + i for i in range(10)}
    deadline = time.monotonic() + GONE_WITHIN_S
    while processes_on_ports(ports) or mentioning(str(folder)):
        assert time.monotonic() < deadline, "processes outlived the killed harness by 5 s"
        time.sleep(0.1)
    assert not (folder / "summary.json").exists()

    done = subprocess.run(
        [*ARCHBENCH, "report", str(folder)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "incomplete"
    complete = [k for k in summary["runs"] if k.startswith("steady/monolith/")]
    assert complete and "rep0" in complete[0]
    assert summary["reason"] == (
        f"harness killed: no summary.json; rebuilt from {len(complete)} complete raw "
        f"run{'s' if len(complete) != 1 else ''}"
    )
    assert all(summary["runs"][k]["measured"]["all"]["throughput_rps"] > 0 for k in complete)
    page = (folder / "report.md").read_text()
    assert "incomplete" in page and "harness killed" in page
