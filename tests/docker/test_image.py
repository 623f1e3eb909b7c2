"""The image builds from the host's wheelhouse alone: no network in the build."""

from __future__ import annotations

import subprocess
import uuid

import docker

from pipeline.paths import ROOT
from tests.docker.conftest import unavailable

WHEELHOUSE = ROOT / "build" / "wheelhouse" / "requirements.lock"


def test_the_dependencies_install_from_the_wheelhouse_without_network(
    engine: docker.DockerClient,
) -> None:
    if not WHEELHOUSE.exists():
        unavailable("no wheelhouse: run `make image`")
    base = engine.images.get("archbench:latest")
    tag = f"archbench-nonet-test:{uuid.uuid4().hex[:8]}"
    # The dependency stage from scratch (no cache), with no network at all.
    build = [
        "docker",
        "build",
        "--network",
        "none",
        "--no-cache",
        "--target",
        "deps",
        "--build-arg",
        f"BASE={base.labels['org.archbench.base']}",
        "-t",
        tag,
        str(ROOT),
    ]
    try:
        result = subprocess.run(build, capture_output=True, text=True, timeout=400, check=False)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        check = [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            tag,
            "/opt/venv/bin/python",
            "-c",
            "import sklearn, fastapi, uvicorn, docker, pandas; print('ok')",
        ]
        ran = subprocess.run(check, capture_output=True, text=True, timeout=120, check=False)
        assert ran.stdout.strip() == "ok", ran.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
