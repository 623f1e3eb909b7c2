"""Model bundles: deterministic training, and nothing unpickled unless its hash checks out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline import bundle as bundles
from pipeline import dataset
from pipeline.errors import BundleError
from pipeline.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    train(first)
    train(second)
    return first, second


def test_training_is_deterministic(trained: tuple[Path, Path]) -> None:
    first, second = (bundles.load(d) for d in trained)
    assert first.schema == second.schema
    x = np.array([[r[n] for n in dataset.INPUTS] for r in dataset.records()], dtype=object)
    assert np.array_equal(first.model.predict_proba(x), second.model.predict_proba(x))
    meta = first.metadata
    assert meta["dataset"] == dataset.NAME and meta["metrics"]["accuracy"] > 0.9
    assert {"version", "trained_at", "n_train", "n_test", "scikit_learn"} <= meta.keys()


def test_schema_only_load_has_no_model(trained: tuple[Path, Path]) -> None:
    light = bundles.load(trained[0], with_model=False)
    assert light.model is None and light.schema.names == dataset.INPUTS
    with pytest.raises(BundleError, match="schema only"):
        light.predict([[0.0] * 9])


def tampered_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_tampered_model_is_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    copy = tampered_copy(trained[0], tmp_path / "bundle")
    with (copy / bundles.PICKLE_FILE).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="does not match its sha256"):
        bundles.load(copy)
    # the schema alone is still intact and loads
    assert bundles.load(copy, with_model=False).schema.names == dataset.INPUTS


def test_an_unknown_format_is_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    copy = tampered_copy(trained[0], tmp_path / "bundle")
    manifest = json.loads((copy / bundles.MANIFEST_FILE).read_text())
    (copy / bundles.MANIFEST_FILE).write_text(json.dumps({**manifest, "format": "other/9"}))
    with pytest.raises(BundleError, match="format 'other/9'"):
        bundles.load(copy)


def test_a_missing_bundle_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="make model"):
        bundles.load(tmp_path)
