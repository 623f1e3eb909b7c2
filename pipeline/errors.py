"""The pipeline's error tree; the web glue maps it to HTTP in one place.

PipelineError
 ├── RequestError          the client's request cannot be processed (a 4xx)
 │    ├── MalformedBody     the body is not JSON
 │    └── InvalidRecords    records break the input schema; lists every problem
 └── BundleError           a model bundle is missing, tampered with, or of an unknown format
"""

from __future__ import annotations

from pipeline.records import Problem


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class RequestError(PipelineError):
    """The client's request cannot be processed; the client must change it."""

    code = "bad_request"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class MalformedBody(RequestError):
    """The body could not be parsed as JSON."""

    code = "malformed_json"


class InvalidRecords(RequestError):
    """One or more records break the input schema."""

    code = "invalid_records"


class BundleError(PipelineError):
    """A model bundle cannot be loaded safely."""
