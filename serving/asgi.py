"""FastAPI glue for the monolith, the gateway and the stage services: one app shape for all.

Every POST route reads a size-checked JSON body and hands the bytes to a handler; every error is
mapped by `serving.errors.to_response`; health, readiness and metrics mean the same everywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import msgspec
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import PipelineError
from serving import errors, metrics, timing
from serving.errors import HTTPError, PayloadTooLarge, RouteNotFound
from serving.settings import Settings

log = logging.getLogger("archbench.serving")
JSON = "application/json"


@dataclass
class Reply:
    """What a route handler answers: status, JSON body, and Server-Timing entries."""

    body: bytes
    status: int = 200
    timings: list[tuple[str, float]] = field(default_factory=list)


Handler = Callable[[bytes], Awaitable[Reply]]
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


async def read_body(request: Request, limit: int) -> bytes:
    """Read a JSON body, refusing a wrong content type (415) or more than `limit` bytes (413)."""
    errors.check_content_type(request.headers.get("content-type"))
    errors.check_length(request.headers.get("content-length"), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _respond(status: int, body: bytes, timings: list[tuple[str, float]] | None = None) -> Response:
    headers = {"server-timing": timing.header(timings)} if timings else None
    return Response(body, status, headers=headers, media_type=JSON)


def _post_route(path: str, handler: Handler, body_limit: int) -> Callable[..., Awaitable[Response]]:
    async def route(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await read_body(request, body_limit)
            reply = await handler(body)
            status, payload, timings = reply.status, reply.body, reply.timings
        except (HTTPError, PipelineError) as exc:
            (status, payload), timings = errors.to_response(exc), []
        except Exception as exc:  # process boundary: log the bug, answer without internals
            log.exception("unexpected error on POST %s", path)
            (status, payload), timings = errors.to_response(exc), []
        elapsed = time.perf_counter() - started
        metrics.observe(path, status, elapsed)
        if timings:
            timings.append(("total", elapsed * 1000))
        return _respond(status, payload, timings)

    return route


def create_app(
    name: str,
    settings: Settings,
    routes: Mapping[str, Handler],
    ready: Readiness,
    lifespan: Callable[[], AsyncIterator[None]],
    body_limit: int,
) -> FastAPI:
    """Assemble an app: the POST routes, GET /healthz, /readyz, /metrics, JSON errors."""

    @asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        async with asynccontextmanager(lifespan)():
            yield

    app = FastAPI(title=name, lifespan=run, docs_url=None, redoc_url=None, openapi_url=None)
    for path, handler in routes.items():
        app.add_api_route(path, _post_route(path, handler, body_limit), methods=["POST"])

    async def healthz() -> Response:
        return _respond(200, b'{"alive":true}')

    async def readyz() -> Response:
        ok, detail = await ready()
        body = msgspec.json.encode({"ready": ok, **detail})
        return _respond(200 if ok else 503, body)

    async def metrics_page() -> Response:
        page, content_type = metrics.exposition()
        return Response(page, media_type=content_type)

    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/readyz", readyz, methods=["GET"])
    app.add_api_route("/metrics", metrics_page, methods=["GET"])

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            error: HTTPError = errors.MethodNotAllowed(
                f"method {request.method} is not allowed on {request.url.path}"
            )
        elif exc.status_code == 404:
            error = RouteNotFound(f"no route {request.method} {request.url.path}")
        else:
            error = HTTPError(str(exc.detail))
            error.status = exc.status_code
        status, body = errors.to_response(error)
        return _respond(status, body)

    app.add_exception_handler(StarletteHTTPException, http_error)
    return app


def serve(app: FastAPI, settings: Settings) -> None:
    """Run an app under uvicorn with uvloop and httptools, without per-request logging."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        # Longer than the gateway pool's keep-alive, so the server never closes a pooled
        # connection the client is about to reuse.
        timeout_keep_alive=75,
    )
