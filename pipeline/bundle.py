"""A model bundle: a fitted scikit-learn Pipeline (or estimator), its input schema, a sample of its
input records and its metadata, stored with a manifest.

A bundle is a folder: the model (`model.skops`, or `model.joblib` when the user trusted a
pickle), `schema.json`, `records.json` (up to MAX_RECORDS input records, the load generator's
source), `metadata.json` and `manifest.json`, which records the format and each file's sha256.
Nothing is deserialised before its hash checks out; a skops model loads with the types the user
trusted when the bundle was made (metadata `trusted_types`) and no others.

The pipeline splits at `metadata["split"]`: the steps before it are the `features` stage, the
steps from it the `score` stage (by default the final estimator alone).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from pipeline.errors import BundleError
from pipeline.records import Prediction, Value
from pipeline.schema import Field, Schema

FORMAT = "archbench-bundle/2"
SKOPS_FILE, PICKLE_FILE = "model.skops", "model.joblib"
MODEL_FILES = (SKOPS_FILE, PICKLE_FILE)
SCHEMA_FILE, RECORDS_FILE, METADATA_FILE, MANIFEST_FILE = (
    "schema.json",
    "records.json",
    "metadata.json",
    "manifest.json",
)
MAX_RECORDS = 10_000
TASKS = ("classifier", "regressor", "predict-only")


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

    @property
    def features_version(self) -> str:
        """The version of the bundle whose preprocessing this one's is: a new version that kept
        its preprocessing names the old one (pipeline.train), so the two mix safely."""
        return _features_version(self.metadata)

    @property
    def task(self) -> str:
        return str(self.metadata.get("task", "classifier"))

    @property
    def split(self) -> int:
        """Index of the first step of `score` in the fitted pipeline."""
        return int(self.metadata.get("split", -1))

    def preprocess(self, rows: list[list[Value]]) -> tuple[list[list[Value]], list[str] | None]:
        """Run the `features` steps over rows in schema order (a DataFrame of the schema's
        columns and dtypes when the model was fitted on one, else an object array): the output
        as JSON-able rows and, when the score steps were fitted on named columns, their names."""
        model = self._fitted()
        steps = features_steps(model, self.split)
        x = inputs(self.schema, rows)
        out = x if steps is None else steps.transform(x)
        named = getattr(out, "columns", None)
        if named is None or not hasattr(score_steps(model, self.split), "feature_names_in_"):
            return feature_output(out), None
        return feature_output(out), [str(c) for c in named]

    def predict(self, matrix: Any, columns: list[str] | None = None) -> list[Prediction]:
        """Run the `score` steps: each row's label and probability (classifier), value
        (regressor) or prediction (predict-only)."""
        import numpy as np

        x = feature_input(matrix, columns)
        estimator = score_steps(self._fitted(), self.split)
        if self.task == "classifier":
            proba = np.asarray(estimator.predict_proba(x))
            best = proba.argmax(axis=1)
            labels = estimator.classes_[best]
            chosen = proba[np.arange(len(best)), best].tolist()
            return [Prediction(str(c), p) for c, p in zip(labels, chosen, strict=True)]
        out = np.asarray(estimator.predict(x)).reshape(len(x), -1)[:, 0]
        if self.task == "regressor" or np.issubdtype(out.dtype, np.number):
            return [Prediction(value=float(v)) for v in out.tolist()]
        return [Prediction(label=str(v)) for v in out.tolist()]

    def _fitted(self) -> Any:
        if self.model is None:
            raise BundleError("this process loaded the schema only; the stage needs the model")
        return self.model


def features_steps(model: Any, split: int) -> Any:
    """The fitted steps before `split` (None: the model has no preprocessing)."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return None
    head = model[:split]
    return head if len(head.steps) else None


def score_steps(model: Any, split: int) -> Any:
    """The fitted steps from `split` on: the final estimator, or a pipeline of the rest."""
    if getattr(model, "steps", None) is None:
        return model
    tail = model[split:]
    return tail.steps[0][1] if len(tail.steps) == 1 else tail


def inputs(schema: Schema, rows: list[list[Value]]) -> Any:
    """Validated rows as the model was fitted on them: a DataFrame with the schema's columns and
    dtypes (missing values as NaN), or an object array in schema order."""
    import numpy as np

    if not schema.frame:
        return np.array(rows, dtype=object)
    import pandas as pd

    names = list(schema.names)
    if all(f.kind == "numeric" and f.dtype == "float64" for f in schema.fields):
        # one float block: what a DataFrame of numbers costs, and no more
        return pd.DataFrame(_floats(rows), columns=names, copy=False)
    columns = {f.name: _column(f, [row[i] for row in rows]) for i, f in enumerate(schema.fields)}
    return pd.DataFrame(columns, columns=names)


def _floats(rows: list[list[Value]]) -> Any:
    """Rows of numbers (None as NaN) as one float64 array."""
    import numpy as np

    try:
        return np.array(rows, dtype=np.float64)
    except TypeError:
        return np.array([[np.nan if v is None else v for v in row] for row in rows], np.float64)


def _column(f: Field, values: list[Value]) -> Any:
    """One input column in the dtype the model was fitted with (missing values as NaN)."""
    import numpy as np
    import pandas as pd

    missing = any(v is None for v in values)
    if f.kind in ("categorical", "text") or f.dtype in (None, "object", "str", "string"):
        return np.array([np.nan if v is None else v for v in values], dtype=object)
    if f.kind == "numeric" or (missing and f.dtype.startswith(("int", "uint", "bool"))):
        return _floats([values])[0]
    try:
        return pd.array(values, dtype=f.dtype)
    except (TypeError, ValueError):
        return np.array(values, dtype=object)


def feature_output(out: Any) -> list[list[Value]]:
    """The features stage's output as JSON-able rows: dense, NaN as null."""
    import numpy as np

    if hasattr(out, "toarray"):
        out = out.toarray()
    array = np.asarray(out)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    rows: list[list[Value]] = array.tolist()
    if array.dtype.kind in "iub" or (array.dtype.kind == "f" and not np.isnan(array).any()):
        return rows
    # NaN is not JSON: null on the wire, and so in-process too (both architectures alike)
    return [[None if isinstance(v, float) and v != v else v for v in row] for row in rows]


def feature_input(matrix: Any, columns: list[str] | None) -> Any:
    """The score stage's input from the wire rows: a float array (null as NaN) when numeric, an
    object array otherwise, as a DataFrame of `columns` when they are named."""
    import numpy as np

    if not isinstance(matrix, list):
        array = matrix
    else:
        try:
            array = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError):
            array = np.array(
                [[np.nan if v is None else v for v in row] for row in matrix], dtype=object
            )
            with contextlib.suppress(TypeError, ValueError):
                array = array.astype(np.float64)
    if columns is None:
        return array
    import pandas as pd

    if isinstance(array, pd.DataFrame):
        return array
    return pd.DataFrame(array, columns=columns)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(
    directory: Path,
    model_file: Path,
    schema: Schema,
    records: list[dict[str, Any]],
    metadata: dict[str, Any],
) -> None:
    """Write a bundle folder from a serialised model file (copied in), and its manifest."""
    if model_file.name not in MODEL_FILES:
        raise ValueError(f"model file must be named one of {MODEL_FILES}, not {model_file.name}")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in MODEL_FILES:
        (directory / stale).unlink(missing_ok=True)
    (directory / model_file.name).write_bytes(model_file.read_bytes())
    (directory / SCHEMA_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(schema)))
    (directory / RECORDS_FILE).write_bytes(msgspec.json.encode(records[:MAX_RECORDS]))
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    _seal(directory, (model_file.name, SCHEMA_FILE, RECORDS_FILE, METADATA_FILE))


def _seal(directory: Path, names: tuple[str, ...]) -> None:
    """Write the manifest: the format and each file's sha256."""
    manifest = {"format": FORMAT, "files": {name: sha256(directory / name) for name in names}}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def reversioned(source: Path, directory: Path, version: str) -> dict[str, Any]:
    """Copy a bundle as another version of itself (same files, the metadata's version changed,
    its preprocessing named as the source's); returns the new metadata."""
    metadata = load(source, with_model=False).metadata
    metadata = {**metadata, "version": version, "features_version": _features_version(metadata)}
    model = source / model_file(source)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / model.name).write_bytes(model.read_bytes())
    for name in (SCHEMA_FILE, RECORDS_FILE):
        (directory / name).write_bytes((source / name).read_bytes())
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    _seal(directory, (model.name, SCHEMA_FILE, RECORDS_FILE, METADATA_FILE))
    return metadata


def _features_version(metadata: dict[str, Any]) -> str:
    return str(metadata.get("features_version", metadata["version"]))


def _manifest(directory: Path) -> dict[str, Any]:
    manifest_path = directory / MANIFEST_FILE
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise BundleError(
            f"no model bundle at {directory} (make one with `archbench bundle`, or the demo's "
            "with `make model`)"
        ) from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(
            f"{manifest_path}: format {manifest.get('format')!r}, expected {FORMAT} "
            "(make the bundle again with this archbench)"
        )
    return manifest


def current(directory: Path) -> bool:
    """Whether the folder holds a bundle of this archbench's format (to retrain our own)."""
    try:
        _manifest(directory)
    except BundleError:
        return False
    return True


def _verified(directory: Path, name: str) -> Path:
    manifest = _manifest(directory)
    path = directory / name
    expected = manifest.get("files", {}).get(name)
    if expected is None or not path.is_file():
        raise BundleError(f"{path} is missing from the bundle")
    if sha256(path) != expected:
        raise BundleError(
            f"{path} does not match its sha256 in {directory / MANIFEST_FILE}; refusing to load"
        )
    return path


def model_file(directory: Path) -> str:
    """Which model file the bundle holds."""
    files = _manifest(directory).get("files", {})
    for name in MODEL_FILES:
        if name in files:
            return name
    raise BundleError(f"{directory / MANIFEST_FILE} lists no model file")


def read_model(path: Path, trusted: list[str]) -> Any:
    """Deserialise a model file: skops with exactly the `trusted` types, or a joblib pickle
    (which runs code: only for files the user chose to trust)."""
    if path.suffix == ".skops":
        import skops.io

        return skops.io.load(path, trusted=trusted)
    import joblib

    return joblib.load(path)


def records(directory: Path) -> list[dict[str, Any]]:
    """The bundle's sample of input records (the load generator's source)."""
    data: list[dict[str, Any]] = json.loads(_verified(directory, RECORDS_FILE).read_text())
    return data


def load(directory: Path, *, with_model: bool = True, limits: Limits | None = None) -> ModelBundle:
    """Load a bundle after checking the manifest; `with_model=False` loads schema and metadata."""
    schema = msgspec.json.decode(_verified(directory, SCHEMA_FILE).read_bytes(), type=Schema)
    metadata = json.loads(_verified(directory, METADATA_FILE).read_text())
    model = None
    if with_model:
        path = _verified(directory, model_file(directory))
        model = read_model(path, list(metadata.get("trusted_types", [])))
    return ModelBundle(schema, metadata, model, limits or Limits())
