"""Making a bundle from a fitted model and a sample of its input (`archbench bundle`, and
`archbench train` for the demo): the model file read under the user's trust, the data's columns
held to what the model expects, the schema derived, every sample row predicted, then written.

Every mistake is a BundleError of one line, raised before anything is written.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata as distributions
from pathlib import Path
from typing import Any

import msgspec

from pipeline import bundle as bundles
from pipeline import schema as schemas
from pipeline.errors import BundleError, PipelineError
from pipeline.records import Value
from pipeline.schema import Field, Schema

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
DATA_SUFFIXES = (".csv", ".parquet", ".pq")
SAMPLE_SEED = 0
CHECK_BATCH = 256
# What a model's prediction raises for a row it cannot take (scikit-learn's own errors are these).
PREDICT_ERRORS = (PipelineError, ValueError, TypeError, KeyError, IndexError)
LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "skops", "joblib")


def read_model(
    path: Path, trust: Sequence[str] = (), trust_pickle: bool = False
) -> tuple[Any, list[str]]:
    """A model file: skops (types it does not trust by default must be named in `trust`), or a
    joblib/pickle file when `trust_pickle` (unpickling runs the file's code). Returns the model
    and the skops types it was loaded with (kept in the bundle's metadata)."""
    if not path.is_file():
        raise BundleError(f"no model file at {path}")
    if path.suffix == ".skops":
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(file=path)
        except Exception as exc:  # skops raises many kinds for a file that is not its format
            raise BundleError(f"{path} is not a skops file ({exc})") from None
        unknown = [t for t in untrusted if t not in trust]
        if unknown:
            raise BundleError(
                f"{path} holds types skops does not trust by default: {', '.join(unknown)}; "
                "if you trust them, name them with --trust " + ",".join(untrusted)
            )
        return bundles.read_model(path, list(untrusted)), list(untrusted)
    if path.suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise BundleError(
                f"{path} is a pickle, and loading one runs its code: pass --trust-pickle if you "
                "trust it, or save the model with skops (.skops)"
            )
        try:
            return bundles.read_model(path, []), []
        except Exception as exc:  # whatever the pickle raises, it is not a model we can use
            raise BundleError(f"{path} could not be unpickled ({exc})") from None
    raise BundleError(
        f"unknown model file type {path.suffix!r}; use .skops, or .joblib/.pkl with --trust-pickle"
    )


def read_data(path: Path) -> Any:
    """A CSV or Parquet sample of the model's input, read with pandas."""
    import pandas as pd

    if not path.is_file():
        raise BundleError(f"no data file at {path}")
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        if path.suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError) as exc:
        raise BundleError(f"{path} could not be read ({exc})") from None
    raise BundleError(f"unknown data file type {path.suffix!r}; use .csv or .parquet")


def _estimator_of(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def check_fitted(model: Any) -> None:
    """A fitted scikit-learn-API model, or BundleError saying what it is instead."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(model, "predict") or not hasattr(model, "fit"):
        raise BundleError(
            f"the model file holds a {type(model).__name__}, not a fitted scikit-learn "
            "Pipeline or estimator"
        )
    try:
        check_is_fitted(_estimator_of(model))
    except NotFittedError:
        raise BundleError(f"the {type(model).__name__} in the model file is not fitted") from None
    except TypeError as exc:
        raise BundleError(
            f"the model file's {type(model).__name__} is not usable ({exc})"
        ) from None


def split_index(model: Any, step: str | None) -> int:
    """Where `features` ends and `score` begins: before the named step, or the last one."""
    steps = getattr(model, "steps", None)
    if step is None or steps is None:
        if step is not None:
            raise BundleError(f"--split {step}: the model is a single estimator, not a Pipeline")
        return -1
    names = [name for name, _ in steps]
    if step not in names:
        raise BundleError(
            f"unknown step {step!r} for --split; the pipeline's steps: {', '.join(names)}"
        )
    return names.index(step)


def inputs_of(model: Any, frame: Any, target: str | None) -> tuple[Any, Any, bool]:
    """(the model's input columns, the target or None, fitted on a DataFrame?)."""
    columns = [str(c) for c in frame.columns]
    if target is not None and target not in columns:
        raise BundleError(
            f"target column {target!r} is not in the data (its columns: {', '.join(columns)})"
        )
    y = frame[target] if target is not None else None
    x = frame.drop(columns=[target]) if target is not None else frame
    expected = getattr(model, "feature_names_in_", None)
    if expected is not None:
        wanted = [str(c) for c in expected]
        missing = [c for c in wanted if c not in x.columns]
        extra = [c for c in x.columns if c not in wanted]
        if missing or extra:
            parts = [f"missing: {', '.join(missing)}"] if missing else []
            parts += [f"extra: {', '.join(map(str, extra))}"] if extra else []
            hint = ""
            if target is None and len(extra) == 1 and not missing:
                hint = f"; if {extra[0]} is the target, name it with --target"
            raise BundleError(
                "the data's columns do not match what the model expects ("
                + "; ".join(parts)
                + ")"
                + hint
            )
        return x[wanted], y, True
    count = getattr(model, "n_features_in_", None)
    if count is not None and count != len(x.columns):
        raise BundleError(
            f"the model expects {count} input columns; the data has {len(x.columns)} "
            f"({', '.join(map(str, x.columns))})"
        )
    return x, y, False


def derive(frame: Any, named: bool, margin: float = 0.5) -> Schema:
    """A field per column, by its values: numbers with ranges, categories, booleans, free text;
    nullable where the sample has missing values."""
    import pandas as pd

    fields = []
    for name in frame.columns:
        column = frame[name]
        present = column.dropna()
        nullable, dtype = bool(column.isna().any()), str(column.dtype)
        if present.empty:
            raise BundleError(f"column {name!r} has no values in the data")
        values = present.tolist()
        if pd.api.types.is_bool_dtype(column) or all(isinstance(v, bool) for v in values):
            fields.append(Field(str(name), "boolean", nullable=nullable, dtype=dtype))
        elif pd.api.types.is_numeric_dtype(column):
            low, high = schemas.numeric_range([float(v) for v in values], margin)
            kind: schemas.Kind = "integer" if pd.api.types.is_integer_dtype(column) else "numeric"
            if kind == "integer":
                low, high = float(math.floor(low)), float(math.ceil(high))
            fields.append(Field(str(name), kind, min=low, max=high, nullable=nullable, dtype=dtype))
        else:
            texts = [str(v) for v in values]
            longest, distinct = max(len(t) for t in texts), sorted(set(texts))
            if len(distinct) <= schemas.MAX_CATEGORIES and longest <= schemas.TEXT_LENGTH:
                categories = tuple(distinct)
                fields.append(
                    Field(
                        str(name),
                        "categorical",
                        categories=categories,
                        nullable=nullable,
                        dtype=dtype,
                    )
                )
            else:
                limit = longest * schemas.TEXT_LENGTH_MARGIN
                fields.append(
                    Field(str(name), "text", max_length=limit, nullable=nullable, dtype=dtype)
                )
    return Schema(tuple(fields), frame=named)


def _json(value: Any) -> Value:
    """A sample value as JSON: numpy scalars as Python ones, anything else as its text."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def sample_records(frame: Any, limit: int = bundles.MAX_RECORDS) -> list[dict[str, Value]]:
    """At most `limit` rows of the input as JSON records (a seeded sample when there are more);
    every kind of missing value (None, NaN, pandas' NA and NaT) as null."""
    if len(frame) > limit:
        frame = frame.sample(n=limit, random_state=SAMPLE_SEED)
    names = [str(c) for c in frame.columns]
    cells = frame.astype(object).where(frame.notna(), None)
    return [
        {n: _json(v) for n, v in zip(names, row, strict=True)}
        for row in cells.itertuples(index=False, name=None)
    ]


def trimmed(frame: Any) -> Any:
    """The sample with surrounding white space trimmed from every string, as the ingest stage
    trims every request: the schema's categories and the model's check see what serving sees."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == object or str(column.dtype) in ("str", "string"):
            out[name] = column.map(lambda v: v.strip() if isinstance(v, str) else v)
    return out


def task_of(model: Any, split: int) -> str:
    """classifier (with probabilities), regressor, or predict-only."""
    from sklearn.base import is_classifier, is_regressor

    estimator = bundles.score_steps(model, split)
    if is_classifier(estimator) and hasattr(estimator, "predict_proba"):
        return "classifier"
    if is_regressor(estimator):
        return "regressor"
    return "predict-only"


def _predict(bundle: bundles.ModelBundle, records: list[dict[str, Value]]) -> list[Any]:
    """The records through all four stages, as a request body, exactly as a service runs them."""
    from pipeline.stages import features, ingest, score, validate

    body = msgspec.json.encode({"records": records})
    answered = score(bundle, features(bundle, validate(bundle, ingest(bundle, body)))).predictions
    if len(answered) != len(records):
        raise ValueError(f"{len(answered)} predictions for {len(records)} rows")
    return answered


def check_predicts(bundle: bundles.ModelBundle, records: list[dict[str, Value]]) -> list[Any]:
    """Run every sample record through the stages in-process; BundleError naming the first row
    that does not predict, and why. Returns the predictions."""
    out: list[Any] = []
    for start in range(0, len(records), CHECK_BATCH):
        chunk = records[start : start + CHECK_BATCH]
        try:
            out += _predict(bundle, chunk)
        except PREDICT_ERRORS:
            for i, record in enumerate(chunk):
                try:
                    _predict(bundle, [record])
                except PREDICT_ERRORS as exc:
                    problems = getattr(exc, "problems", None)
                    why = (
                        "; ".join(
                            f"{p.field.removeprefix('records[0].')} {p.problem}" for p in problems
                        )
                        if problems
                        else exc
                    )
                    raise BundleError(
                        "the model cannot predict every row of the sample: "
                        f"row {start + i} fails ({why})"
                    ) from None
            raise
    return out


def fallback(task: str, y: Any, predictions: list[Any]) -> dict[str, Any]:
    """What a degraded answer says when the model cannot run: the most frequent class with its
    share (classifier, predict-only labels) or the mean (regressor, numeric predictions)."""
    from collections import Counter

    if task == "classifier" or (task == "predict-only" and predictions[0].label is not None):
        labels = [str(v) for v in y.dropna()] if y is not None else [p.label for p in predictions]
        counts = Counter(labels)
        label, n = counts.most_common(1)[0]
        return {"label": label, "probability": round(n / len(labels), 4)}
    values = [float(v) for v in y.dropna()] if y is not None else [p.value for p in predictions]
    return {"value": sum(values) / len(values)}


def libraries(model: Any) -> dict[str, str | None]:
    """Versions of the libraries the model runs with (and its estimator's own package)."""
    names = list(LIBRARIES)
    package = type(_estimator_of(model)).__module__.split(".")[0]
    if package not in ("sklearn", "builtins"):
        names.append(package)
    return versions(names)


def versions(names: Sequence[str]) -> dict[str, str | None]:
    """The installed version of each distribution (None where it is not installed)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = distributions.version(name)
        except distributions.PackageNotFoundError:
            found[name] = None
    return found


def make(
    model: Any,
    frame: Any,
    out: Path,
    *,
    model_file: Path,
    name: str,
    version: str,
    target: str | None = None,
    split: str | None = None,
    trusted_types: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check the model on the data and write the bundle to `out`; returns its metadata.
    `model_file` is the serialised model (.skops, or a trusted pickle) copied into the bundle."""
    check_fitted(model)
    if out.exists() and any(out.iterdir()) and not (out / bundles.MANIFEST_FILE).exists():
        raise BundleError(f"{out} is a folder with other files; choose an empty or new one")
    index = split_index(model, split)
    x, y, named = inputs_of(model, frame, target)
    x = trimmed(x)
    schema = derive(x, named)
    records = sample_records(x)
    task = task_of(model, index)
    metadata: dict[str, Any] = {
        "name": name,
        "version": version,
        "task": task,
        "target": target,
        "split": index,
        "split_step": model.steps[index][0] if hasattr(model, "steps") else None,
        "estimator": type(bundles.score_steps(model, index)).__name__,
        "model_file": bundles.SKOPS_FILE if model_file.suffix == ".skops" else bundles.PICKLE_FILE,
        "model_sha256": bundles.sha256(model_file),
        "trusted_types": sorted(trusted_types),
        "libraries": libraries(model),
        "n_sample_rows": len(frame),
        "n_records": len(records),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    estimator = bundles.score_steps(model, index)
    if task == "classifier":
        metadata["classes"] = [str(c) for c in estimator.classes_]
    bundle = bundles.ModelBundle(schema, metadata, model)
    predictions = check_predicts(bundle, records)
    metadata["fallback"] = fallback(task, y, predictions)
    if task == "classifier":
        prior = y.dropna().astype(str).value_counts(normalize=True) if y is not None else None
        if prior is not None:
            metadata["class_prior"] = {str(k): round(float(v), 4) for k, v in prior.items()}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / metadata["model_file"]
        copy.write_bytes(model_file.read_bytes())
        bundles.write(out, copy, schema, records, metadata)
    return metadata


def dump_own(model: Any, directory: Path) -> Path:
    """Serialise a model this process fitted itself (the demo and its variants): a joblib pickle,
    which loads fastest and which nobody else wrote."""
    import joblib

    path = directory / bundles.PICKLE_FILE
    joblib.dump(model, path)
    return path


def from_files(
    model_path: Path,
    data_path: Path,
    out: Path,
    *,
    target: str | None = None,
    name: str | None = None,
    version: str = "1",
    split: str | None = None,
    trust: Sequence[str] = (),
    trust_pickle: bool = False,
) -> dict[str, Any]:
    """`archbench bundle`: read the model and the data, then `make`."""
    model, trusted = read_model(model_path, trust, trust_pickle)
    frame = read_data(data_path)
    return make(
        model,
        frame,
        out,
        model_file=model_path,
        name=name or model_path.stem,
        version=version,
        target=target,
        split=split,
        trusted_types=trusted,
        extra={"source": {"model": model_path.name, "data": data_path.name}},
    )
