"""The typed records that flow between stages; they are also the wire contract of every service."""

from __future__ import annotations

from typing import Any

import msgspec


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a request, named by the field it concerns."""

    field: str
    problem: str


class Batch(msgspec.Struct):
    """Output of `ingest`: the request's records, normalised, not yet checked."""

    records: list[Any]


class ValidBatch(msgspec.Struct):
    """Output of `validate`: one row per record, values in schema field order."""

    rows: list[list[float | str]]


class FeatureBatch(msgspec.Struct):
    """Output of `features`: the fitted preprocessing's matrix, one row per record."""

    matrix: list[list[float]]


class Prediction(msgspec.Struct):
    """The estimator's answer for one record."""

    label: str
    probability: float


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
    stage: str | None = None


def report(batch: ValidBatch) -> ValidationReport:
    """Summarise a validated batch for `POST /validate`."""
    return ValidationReport(valid=True, n_records=len(batch.rows))
