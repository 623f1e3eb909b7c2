"""A model bundle: fitted scikit-learn Pipeline, input schema and metadata, stored with a manifest.

A bundle is a folder: `model.joblib`, `schema.json`, `metadata.json` and `manifest.json`, which
records the format and each file's sha256. Nothing is unpickled before its hash checks out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from pipeline.errors import BundleError
from pipeline.schema import Schema

FORMAT = "archbench-bundle/1"
MODEL_FILE, SCHEMA_FILE, METADATA_FILE, MANIFEST_FILE = (
    "model.joblib",
    "schema.json",
    "metadata.json",
    "manifest.json",
)


@dataclass(frozen=True)
class Limits:
    """Request limits the stages enforce."""

    max_records: int = 1024


@dataclass(frozen=True)
class ModelBundle:
    """What the stages run against. `model` is None when only the schema was loaded."""

    schema: Schema
    metadata: dict[str, Any]
    model: Any = None
    limits: Limits = field(default_factory=Limits)

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    def preprocess(self, rows: list[list[float | str]]) -> Any:
        """Run the fitted preprocessing (every step but the last) over rows in schema order."""
        import numpy as np

        return self._fitted()[:-1].transform(np.array(rows, dtype=object))

    def predict(self, matrix: list[list[float]]) -> tuple[list[str], list[float]]:
        """Run the fitted estimator; return each row's label and that label's probability."""
        import numpy as np

        estimator = self._fitted()[-1]
        proba = estimator.predict_proba(np.asarray(matrix, dtype=np.float64))
        best = proba.argmax(axis=1)
        labels = [str(c) for c in estimator.classes_[best]]
        return labels, proba[np.arange(len(best)), best].tolist()

    def _fitted(self) -> Any:
        if self.model is None:
            raise BundleError("this process loaded the schema only; the stage needs the model")
        return self.model


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(directory: Path, model: Any, schema: Schema, metadata: dict[str, Any]) -> None:
    """Write a bundle folder (replacing its files) and its manifest."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / MODEL_FILE)
    (directory / SCHEMA_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(schema)))
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    files = {name: _sha256(directory / name) for name in (MODEL_FILE, SCHEMA_FILE, METADATA_FILE)}
    manifest = {"format": FORMAT, "files": files}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _verified(directory: Path, name: str) -> Path:
    manifest_path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise BundleError(f"no model bundle at {directory} (run `make model`)") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path}: format {manifest.get('format')!r}, expected {FORMAT}")
    path = directory / name
    expected = manifest.get("files", {}).get(name)
    if expected is None or not path.is_file():
        raise BundleError(f"{path} is missing from the bundle")
    if _sha256(path) != expected:
        raise BundleError(f"{path} does not match its sha256 in {manifest_path}; refusing to load")
    return path


def load(directory: Path, *, with_model: bool = True, limits: Limits | None = None) -> ModelBundle:
    """Load a bundle after checking the manifest; `with_model=False` loads schema and metadata."""
    schema = msgspec.json.decode(_verified(directory, SCHEMA_FILE).read_bytes(), type=Schema)
    metadata = json.loads(_verified(directory, METADATA_FILE).read_text())
    model = None
    if with_model:
        import joblib

        model = joblib.load(_verified(directory, MODEL_FILE))
    return ModelBundle(schema, metadata, model, limits or Limits())
