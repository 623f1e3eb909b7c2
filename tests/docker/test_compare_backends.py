"""`archbench compare` sets a local run against a Docker run of the same model: each side's
backend and budget mode named, the model checked, the figures side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.store.folder import SCHEMA_VERSION
from tests.bench import constructed as c
from tests.bench.test_compare import archbench_compare

MODEL = {"name": "demo", "version": "1.0", "task": "classification", "sha256": "ab" * 32}


def folder(root: Path, name: str, backend: dict[str, Any], model: dict[str, Any]) -> Path:
    """A run folder as the harness writes it: meta.json with config, model and backend."""
    path = root / name
    path.mkdir()
    data = c.summary()
    config = {"archs": list(data["by_arch"]), "slo_ms": 100.0, "repeat": 1}
    config |= {"backend": backend["backend"], "docker_budget": backend.get("mode", "partition")}
    meta = {"config": config, "model": model, "backend": backend}
    for file, content in (("meta.json", meta), ("summary.json", data)):
        (path / file).write_text(json.dumps({"schema_version": SCHEMA_VERSION, **content}))
    return path


def test_a_local_run_against_a_docker_run_names_both_sides(tmp_path: Path) -> None:
    local = folder(tmp_path, "local", {"backend": "local"}, MODEL)
    docker = {"backend": "docker", "engine": "20.10.24+dfsg1", "mode": "shared"}
    on_docker = folder(tmp_path, "docker", docker, MODEL)
    done = archbench_compare(local, on_docker)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "before: local on local processes" in lines
    assert "after: docker on Docker Engine 20.10.24+dfsg1, budget mode shared" in lines
    assert f"model: demo 1.0 (sha256 {'ab' * 6}) in both" in lines
    assert any("backend local → docker" in line and "docker_budget partition → shared" in line
               for line in lines)  # fmt: skip
    for arch in ("monolith", "micro"):
        assert any(line.startswith(arch) and "+0.0%" in line for line in lines)


def test_runs_of_different_models_are_flagged(tmp_path: Path) -> None:
    local = folder(tmp_path, "local", {"backend": "local"}, MODEL)
    other = folder(tmp_path, "other", {"backend": "local"}, {**MODEL, "sha256": "cd" * 32})
    done = archbench_compare(local, other)
    assert done.returncode == 0, done.stderr
    assert (
        f"note: the runs serve different models: demo 1.0 (sha256 {'ab' * 6}) → "
        f"demo 1.0 (sha256 {'cd' * 6})" in done.stdout
    )
