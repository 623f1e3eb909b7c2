"""A short real bench on a bundle that is not the demo: the load comes from that bundle's records,
almost every prediction succeeds, and the run names the model it measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import runs as analysis
from pipeline import bundle as bundles
from tests.bench.conftest import bench
from tests.bundles import Made, made
from tests.conftest import free_base_port, processes_on_ports

# The regressor: its records and its answers (a value, no label) look nothing like the demo's.
BUNDLE = "diabetes"


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Made]:
    bundle = made(tmp_path_factory)[BUNDLE]
    results = tmp_path_factory.mktemp("results")
    port = free_base_port()
    flags = ("--arch", "monolith,micro", "--scenario", "steady", "--duration", "3")
    done = bench(results, port, *flags, "--model", str(bundle.directory), "--label", "own")
    assert done.returncode == 0, done.stderr
    assert not processes_on_ports({port + i for i in range(10)})
    return (results / "latest").resolve(), bundle


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_the_run_names_the_model_it_measured(own_run: tuple[Path, Made]) -> None:
    run_dir, bundle = own_run
    model = read(run_dir / "meta.json")["model"]
    metadata = bundles.load(bundle.directory, with_model=False).metadata
    assert model["name"] == BUNDLE and model["task"] == "regressor"
    assert model["sha256"] == metadata["model_sha256"]
    assert read(run_dir / "meta.json")["config"]["model_dir"] == str(bundle.directory)


def test_the_load_is_the_bundles_records_and_almost_all_predict(
    own_run: tuple[Path, Made],
) -> None:
    run_dir, _ = own_run
    summary = read(run_dir / "summary.json")
    for arch in ("monolith", "micro"):
        (key,) = [k for k in summary["runs"] if k.startswith(f"steady/{arch}/")]
        record = read(run_dir / "raw" / key / "latency.json")
        c = analysis.counts(record, analysis.all_bins(record), "predict")
        # Penguin records would all be answered 422 where the bundle's records expect 200: a
        # failure each. The bundle's own records predict.
        assert c["ok"] > 0 and c["failed"] <= 0.01 * (c["ok"] + c["failed"]), (arch, c)
