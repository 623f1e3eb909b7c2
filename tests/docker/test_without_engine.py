"""Without an engine the Docker tests skip with one line saying why, unless CI is set: then
they fail."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.paths import ROOT


def pytest_without_engine(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # no engine answers there
    if ci is not None:
        env["CI"] = ci
    test = str(ROOT / "tests" / "docker" / "test_image.py")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_a_machine_without_an_engine_skips_them_saying_why() -> None:
    done = pytest_without_engine(None)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "SKIPPED [1]" in done.stdout and "no Docker engine" in done.stdout
    assert "1 skipped" in done.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_engine_fails_them(ci: str) -> None:
    done = pytest_without_engine(ci)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "CI is set and no Docker engine" in done.stdout
