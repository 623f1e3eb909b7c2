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
"""

from __future__ import annotations

import msgspec

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


def to_response(error: Exception) -> tuple[int, bytes]:
    """Map an error to (status, JSON body). Anything unexpected is a 500 without internals."""
    if isinstance(error, HTTPError):
        return error.status, _encode(error.body)
    if isinstance(error, RequestError):
        status = 400 if isinstance(error, MalformedBody) else 422
        return status, _encode(ErrorBody(error.code, error.message, error.problems))
    if isinstance(error, PipelineError):
        return 500, _encode(ErrorBody("pipeline_error", str(error)))
    return 500, _encode(ErrorBody("internal_error", "internal server error; see the service log"))


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
