"""A short real bench on a bundle that is not the demo (the session's `own_secured_run`,
tests/bench/conftest.py): the load comes from that bundle's records, almost every prediction
succeeds, and the run names the model it measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.analyse import runs as analysis
from pipeline import bundle as bundles
from tests.bench.conftest import OWN_BUNDLE
from tests.bundles import Made


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_the_run_names_the_model_it_measured(own_secured_run: tuple[Path, Made]) -> None:
    run_dir, bundle = own_secured_run
    model = read(run_dir / "meta.json")["model"]
    metadata = bundles.load(bundle.directory, with_model=False).metadata
    assert model["name"] == OWN_BUNDLE and model["task"] == "regressor"
    assert model["sha256"] == metadata["model_sha256"]
    assert read(run_dir / "meta.json")["config"]["model_dir"] == str(bundle.directory)


def test_the_load_is_the_bundles_records_and_almost_all_predict(
    own_secured_run: tuple[Path, Made],
) -> None:
    run_dir, _ = own_secured_run
    summary = read(run_dir / "summary.json")
    for arch in ("monolith", "micro"):
        (key,) = [k for k in summary["runs"] if k.startswith(f"steady/{arch}/")]
        record = read(run_dir / "raw" / key / "latency.json")
        c = analysis.counts(record, analysis.all_bins(record), "predict")
        # Penguin records would all be answered 422 where the bundle's records expect 200: a
        # failure each. The bundle's own records predict.
        assert c["ok"] > 0 and c["failed"] <= 0.01 * (c["ok"] + c["failed"]), (arch, c)
