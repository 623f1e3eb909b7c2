"""Flask glue: the same routes, error mapping, health and metrics as `serving.asgi`, for WSGI."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from pipeline.errors import PipelineError
from serving import admin, errors, metrics, timing, trace
from serving.asgi import JSON, Reply
from serving.errors import HTTPError, MethodNotAllowed, PayloadTooLarge, RouteNotFound
from serving.faults import Faults
from serving.settings import Settings

log = logging.getLogger("archbench.serving")


def _respond(status: int, body: bytes, timings: list[tuple[str, float]] | None = None) -> Response:
    response = Response(body, status, content_type=JSON)
    if timings:
        response.headers["server-timing"] = timing.header(timings)
    return response


def read_body(limit: int) -> bytes:
    """Read a JSON body, refusing a wrong content type (415) or more than `limit` bytes (413)."""
    errors.check_content_type(request.headers.get("content-type"))
    errors.check_length(request.headers.get("content-length"), limit)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
    return body


def create_app(
    name: str,
    routes: Mapping[str, Callable[[bytes], Reply]],
    ready: Callable[[], tuple[bool, dict[str, Any]]],
    body_limit: int,
    settings: Settings | None = None,
    faults: Faults | None = None,
) -> Flask:
    """Assemble a Flask app with the POST routes, GET /healthz, /readyz, /metrics, JSON errors,
    and the admin route when the settings enable it."""
    app = Flask(name)
    traced = settings.trace if settings is not None else True

    def trace_id() -> str | None:
        """The request's trace-id, for an error body; None when the service does not trace."""
        return trace.trace_id(trace.accept(request.headers.get(trace.HEADER))) if traced else None

    def post_route(path: str, handler: Callable[[bytes], Reply]) -> Callable[[], Response]:
        def route() -> Response:
            started = time.perf_counter()
            traceparent = trace.accept(request.headers.get(trace.HEADER)) if traced else None
            tid = traceparent and trace.trace_id(traceparent)
            try:
                reply = handler(read_body(body_limit))
                status, payload, timings = reply.status, reply.body, reply.timings
            except (HTTPError, PipelineError) as exc:
                (status, payload), timings = errors.to_response(exc, name, tid), []
            except Exception as exc:  # process boundary: log the bug, answer without internals
                log.exception("unexpected error on POST %s (trace_id %s)", path, tid)
                (status, payload), timings = errors.to_response(exc, name, tid), []
            elapsed = time.perf_counter() - started
            metrics.observe(path, status, elapsed)
            if timings:
                timings.append(("total", elapsed * 1000))
            response = _respond(status, payload, timings)
            if traceparent is not None:
                response.headers[trace.HEADER] = traceparent
                # Before the answer leaves (WSGI returns it): the line costs the caller its write.
                trace.log_access(name, path, traceparent, status, elapsed)
            return response

        return route

    for path, handler in routes.items():
        app.add_url_rule(path, path, post_route(path, handler), methods=["POST"])

    @app.get("/healthz")
    def healthz() -> Response:
        return _respond(200, b'{"alive":true}')

    @app.get("/readyz")
    def readyz() -> Response:
        ok, detail = ready()
        return _respond(200 if ok else 503, msgspec.json.encode({"ready": ok, **detail}))

    @app.get("/metrics")
    def metrics_page() -> Response:
        page, content_type = metrics.exposition()
        return Response(page, 200, content_type=content_type)

    if settings is not None and admin.enabled(settings):
        token, port = settings.admin_token or "", str(settings.admin_port)
        state = faults or Faults(())

        def admin_faults() -> Response:
            if request.environ.get("SERVER_PORT") != port:  # the public listener: no such route
                missing = RouteNotFound(f"no route {request.method} {request.path}")
                return _respond(*errors.to_response(missing, name, trace_id()))
            headers = {k.lower(): v for k, v in request.headers.items()}
            status, body = admin.handle(request.method, request.get_data(), headers, state, token)
            return _respond(status, body)

        app.add_url_rule(admin.PATH, "admin", admin_faults, methods=list(admin.ROUTED))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 405:
            error: HTTPError = MethodNotAllowed(
                f"method {request.method} is not allowed on {request.path}"
            )
        elif exc.code == 404:
            error = RouteNotFound(f"no route {request.method} {request.path}")
        else:
            error = HTTPError(exc.description or exc.name)
            error.status = exc.code or 500
        status, body = errors.to_response(error, name, trace_id())
        return _respond(status, body)

    return app
