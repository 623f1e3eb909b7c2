"""HTTP errors of the serving layer, and the one place where any error becomes a response.

    HTTPError                  carries a status and an ErrorBody
     ├── UnsupportedMediaType   415: body is not application/json, or not in UTF-8
     ├── PayloadTooLarge        413: body over the size limit
     ├── RouteNotFound          404 / 405: no such route or method
     ├── Unauthorized           401: admin request without the right token
     ├── InvalidFault           422: admin request for a fault that cannot be injected
     ├── InjectedFault          500: a stage failed on purpose (the `errors` fault)
     └── StageError             a stage of the microservices could not answer
          ├── StageUnavailable  503: connection refused or reset
          │    └── CircuitOpen  503: the gateway's breaker for the stage is open
          ├── StageTimeout      504: no answer within the stage timeout
          └── StageFailed       502: the stage answered with a server error

pipeline.errors.RequestError maps to 400 (MalformedBody) or 422 (InvalidRecords).

Every error body names where the request failed (`stage`) and, when the service traces, the
request's trace-id (`trace_id`): the log to open and the line to find in it.
"""

from __future__ import annotations

import msgspec
from msgspec.structs import replace

from pipeline.errors import MalformedBody, PipelineError, RequestError
from pipeline.records import ErrorBody, Problem

_encode = msgspec.json.Encoder().encode
_UTF8 = ("utf-8", "utf8")


class HTTPError(Exception):
    """An error response the serving layer sends on purpose."""

    status = 500
    code = "internal_error"

    def __init__(
        self, message: str, stage: str | None = None, problems: list[Problem] | None = None
    ) -> None:
        super().__init__(message)
        self.body = ErrorBody(self.code, message, problems or [], stage=stage)


class UnsupportedMediaType(HTTPError):
    status, code = 415, "unsupported_media_type"


class PayloadTooLarge(HTTPError):
    status, code = 413, "payload_too_large"


class RouteNotFound(HTTPError):
    status, code = 404, "not_found"


class MethodNotAllowed(HTTPError):
    status, code = 405, "method_not_allowed"


class Unauthorized(HTTPError):
    status, code = 401, "unauthorized"


class InvalidFault(HTTPError):
    status, code = 422, "invalid_fault"


class InjectedFault(HTTPError):
    status, code = 500, "injected_fault"


class StageError(HTTPError):
    """A stage service did not give a usable answer."""


class StageUnavailable(StageError):
    status, code = 503, "stage_unavailable"


class CircuitOpen(StageUnavailable):
    code = "circuit_open"


class StageTimeout(StageError):
    status, code = 504, "stage_timeout"


class StageFailed(StageError):
    status, code = 502, "stage_failed"


_STAGE_ATTRIBUTE = "archbench_stage"


def raised_in(error: Exception, stage: str) -> None:
    """Note on an error the stage whose code raised it (for a process that runs several)."""
    setattr(error, _STAGE_ATTRIBUTE, stage)


def to_response(
    error: Exception, service: str | None = None, trace_id: str | None = None
) -> tuple[int, bytes]:
    """Map an error to (status, JSON body). Anything unexpected is a 500 without internals.

    The body's `stage` is the stage the error names or was raised in, else `service` (the
    process answering); `trace_id` is the request's, None when the service does not trace."""
    stage = getattr(error, _STAGE_ATTRIBUTE, None) or service
    if isinstance(error, HTTPError):
        body = error.body
        status = error.status
    elif isinstance(error, RequestError):
        status = 400 if isinstance(error, MalformedBody) else 422
        body = ErrorBody(error.code, error.message, error.problems)
    elif isinstance(error, PipelineError):
        status, body = 500, ErrorBody("pipeline_error", str(error))
    else:
        status = 500
        body = ErrorBody("internal_error", "internal server error; see the service log")
    if (body.stage is None and stage is not None) or trace_id is not None:
        body = replace(body, stage=body.stage or stage, trace_id=trace_id)
    return status, _encode(body)


def check_content_type(value: str | None) -> None:
    """Refuse anything but JSON bodies in UTF-8: application/json, with no charset or UTF-8's."""
    media_type, *parameters = (value or "").lower().split(";")
    media_type = media_type.strip()
    if media_type != "application/json":
        said = f"content type {media_type!r}" if media_type else "no content type"
        raise UnsupportedMediaType(f"{said} is not supported; send application/json")
    for parameter in parameters:
        name, _, charset = parameter.partition("=")
        charset = charset.strip().strip('"')
        if name.strip() == "charset" and charset not in _UTF8:
            raise UnsupportedMediaType(
                f"charset {charset!r} is not supported; send application/json in UTF-8"
            )


def check_length(value: str | None, limit: int) -> None:
    """Refuse a declared body length over the limit before reading it."""
    if value is not None and value.isdigit() and int(value) > limit:
        raise PayloadTooLarge(f"body of {value} bytes exceeds the limit of {limit} bytes")
