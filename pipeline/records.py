"""The typed records that flow between stages; they are also the wire contract of every service."""

from __future__ import annotations

from typing import Any

import msgspec

# One input value after validation: a number, a category or text, a boolean, or null.
Value = float | int | str | bool | None


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a request, named by the field it concerns."""

    field: str
    problem: str


class Batch(msgspec.Struct):
    """Output of `ingest`: the request's records, normalised, not yet checked."""

    records: list[Any]


class ValidBatch(msgspec.Struct):
    """Output of `validate`: one row per record, values in schema field order."""

    rows: list[list[Value]]


class FeatureBatch(msgspec.Struct, omit_defaults=True):
    """Output of `features`: the fitted preprocessing's output, one row per record (NaN as null);
    `columns` names its columns when the estimator was fitted on a DataFrame of them;
    `features_version` the bundle version of the preprocessing that made it (pipeline.stages.score
    names both versions when its own model expects another)."""

    matrix: list[list[Value]]
    columns: list[str] | None = None
    features_version: str | None = None


class Prediction(msgspec.Struct, omit_defaults=True):
    """The estimator's answer for one record: a classifier's `label` and its `probability`, a
    regressor's `value`, or a predict-only estimator's `label` (a string) or `value` (a number)."""

    label: str | None = None
    probability: float | None = None
    value: float | None = None


class Predictions(msgspec.Struct, omit_defaults=True):
    """Output of `score` and body of a successful `POST /predict`; `degraded` (sent only when
    true) marks the gateway's fallback answer, made without the model."""

    predictions: list[Prediction]
    model_version: str
    degraded: bool = False


class ValidationReport(msgspec.Struct):
    """Body of a successful `POST /validate`."""

    valid: bool
    n_records: int


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Body of every error response, in both architectures."""

    error: str
    message: str
    problems: list[Problem] = []
    # Where the request failed: the stage whose code raised the error, or the process that
    # answered (`gateway`, `monolith`) when no stage ran; and the request's W3C trace-id, which
    # finds its line in every service's log (serving/trace.py).
    stage: str | None = None
    trace_id: str | None = None


def report(batch: ValidBatch) -> ValidationReport:
    """Summarise a validated batch for `POST /validate`."""
    return ValidationReport(valid=True, n_records=len(batch.rows))
