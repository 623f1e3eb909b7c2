"""The harness on the Docker backend: a short bench of both architectures, and `archbench up`
stopped by Ctrl-C, leave a run folder with its report and nothing on the engine."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from bench.analyse import bridge
from bench.report.bridge import TITLE
from stack.engine import leftovers
from tests.bench.conftest import ARCHBENCH, bench
from tests.bench.markdown import md_section
from tests.conftest import free_base_port, request
from tests.serving.test_parity import GOOD


def archbench_cgroups() -> set[str]:
    """Docker stacks' parent cgroups in every hierarchy (local stacks' are named otherwise)."""
    return {str(p) for p in Path("/sys/fs/cgroup").glob("*/archbench/archbench-*") if p.is_dir()}


# The monolith is one container with the whole budget in either mode: the same run in both, so
# the shared run leaves it out.
@pytest.mark.parametrize(
    ("budget", "archs"), [("partition", ("monolith", "micro")), ("shared", ("micro",))]
)
def test_a_short_docker_bench_gives_a_run_with_a_report_in_each_budget_mode(
    engine: docker.DockerClient,
    tmp_path: Path,
    model_dir: Path,
    budget: str,
    archs: tuple[str, ...],
) -> None:
    before = archbench_cgroups()
    flags = ["--backend", "docker", "--docker-budget", budget, "--arch", ",".join(archs)]
    flags += ["--scenario", "steady", "--duration", "2", "--label", "docker"]
    done = bench(tmp_path, free_base_port(), *flags)
    assert done.returncode == 0, done.stderr[-3000:]
    run = (tmp_path / "latest").resolve()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["backend"]["backend"] == "docker" and meta["backend"]["mode"] == budget
    assert meta["backend"]["engine"] == engine.version()["Version"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete"
    for arch in archs:
        measured = summary["runs"][f"steady/{arch}/rep0"]["measured"]["all"]
        assert measured["ok"] > 0
    report = (run / "report.md").read_text()
    assert f"Docker Engine {meta['backend']['engine']}, budget mode {budget}" in report
    # the bridge's hop tax against loopback: measured in the run, derived from its raw record
    raw = json.loads((run / bridge.RAW_FILE).read_text())
    assert summary["bridge"] == json.loads(json.dumps(bridge.summarize(raw)))
    assert summary["bridge"]["engine"] == meta["backend"]["engine"]
    section = md_section(report, TITLE)
    assert "bridge tax per hop (bridge − loopback)" in section
    assert f"One /predict makes {bridge.PREDICT_HOPS} hops: the bridge adds" in section
    assert leftovers() == []
    assert archbench_cgroups() <= before


def test_ctrl_c_of_archbench_up_on_docker_removes_everything(
    engine: docker.DockerClient, tmp_path: Path, model_dir: Path
) -> None:
    before = archbench_cgroups()
    port = free_base_port()
    argv = [*ARCHBENCH, "up", "micro", "--backend", "docker", "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        answered = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answered = request(
                    f"http://127.0.0.1:{port}", "/predict", json.dumps(GOOD).encode()
                )
                break
            except OSError:
                time.sleep(0.5)
        assert answered is not None and answered.status == 200
        assert [t for t in leftovers() if "micro" in t]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "ready at" in out and "'backend': 'docker'" in out
    assert leftovers() == []
    assert archbench_cgroups() <= before
