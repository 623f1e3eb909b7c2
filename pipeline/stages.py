"""The four stages, defined once in order: each a name plus a function over typed records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.bundle import ModelBundle
from pipeline.document import parse
from pipeline.errors import InvalidRecords
from pipeline.records import Batch, FeatureBatch, Predictions, Problem, ValidBatch, Value
from pipeline.schema import check_record, shown_key

BODY_SHAPE = 'must be a JSON object: one record, or {"records": [record, ...]}'


def ingest(bundle: ModelBundle, body: bytes) -> Batch:
    """Parse a raw request body into a batch: one record, or `{"records": [...]}`."""
    document = parse(body)
    if not isinstance(document, dict):
        raise InvalidRecords("request body has the wrong shape", [Problem("body", BODY_SHAPE)])
    if "records" not in document:
        return Batch([_strip(document)])
    records = document["records"]
    if not isinstance(records, list):
        problem = Problem("records", "must be a list of record objects")
        raise InvalidRecords("request body has the wrong shape", [problem])
    extra = [
        Problem(shown_key(key), "is not allowed beside records")
        for key in document
        if key != "records"
    ]
    if extra:
        raise InvalidRecords("request body has the wrong shape", extra)
    return Batch([_strip(r) for r in records])


def _strip(record: Any) -> Any:
    """Trim surrounding white space from string values; leave the rest to `validate`."""
    if not isinstance(record, dict):
        return record
    return {k: v.strip() if isinstance(v, str) else v for k, v in record.items()}


def validate(bundle: ModelBundle, batch: Batch) -> ValidBatch:
    """Check every record against the schema; report every problem with its field name."""
    records = batch.records
    if not records:
        raise InvalidRecords("no records", [Problem("records", "must hold at least one record")])
    if len(records) > bundle.limits.max_records:
        problem = Problem("records", f"must hold at most {bundle.limits.max_records} records")
        raise InvalidRecords("too many records", [problem])
    single = len(records) == 1
    rows: list[list[Value]] = []
    problems: list[Problem] = []
    for i, record in enumerate(records):
        row, found = check_record(bundle.schema, record, "" if single else f"records[{i}]")
        rows.append(row)
        problems.extend(found)
    if problems:
        noun = "record" if single else "batch"
        raise InvalidRecords(f"{noun} failed validation: {len(problems)} problem(s)", problems)
    return ValidBatch(rows)


def features(bundle: ModelBundle, batch: ValidBatch) -> FeatureBatch:
    """Apply the fitted preprocessing (every step before the bundle's split)."""
    matrix, columns = bundle.preprocess(batch.rows)
    return FeatureBatch(matrix, columns, bundle.features_version)


def score(bundle: ModelBundle, batch: FeatureBatch) -> Predictions:
    """Apply the fitted estimator (the steps from the split): a classifier's label and its
    probability, a regressor's value, or a prediction; with the model version. Features made
    by another version's preprocessing than this model's (a service updated before the other)
    give an answer that names both, `features <v> + score <v>`: a mixed-version answer."""
    predictions = bundle.predict(batch.matrix, batch.columns)
    made_by = batch.features_version
    if made_by is not None and made_by != bundle.features_version:
        return Predictions(predictions, f"features {made_by} + score {bundle.version}")
    return Predictions(predictions, bundle.version)


@dataclass(frozen=True)
class Stage:
    """A named step of the pipeline; `input_type` None means the raw request body."""

    name: str
    run: Callable[[ModelBundle, Any], Any]
    input_type: type | None
    output_type: type
    needs_model: bool


STAGES: tuple[Stage, ...] = (
    Stage("ingest", ingest, None, Batch, needs_model=False),
    Stage("validate", validate, Batch, ValidBatch, needs_model=False),
    Stage("features", features, ValidBatch, FeatureBatch, needs_model=True),
    Stage("score", score, FeatureBatch, Predictions, needs_model=True),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def stage(name: str) -> Stage:
    """Look a stage up by name."""
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"unknown stage {name!r}; choose one of: {', '.join(STAGE_NAMES)}")


def through(name: str) -> tuple[Stage, ...]:
    """The stages from the first up to and including `name`."""
    return STAGES[: STAGE_NAMES.index(name) + 1]
