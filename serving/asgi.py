"""FastAPI glue for the monolith, the gateway and the stage services: one app shape for all.

Every POST route reads a size-checked JSON body and hands the bytes to a handler; every error is
mapped by `serving.errors.to_response`; health, readiness and metrics mean the same everywhere.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

from pipeline.bundle import ModelBundle
from pipeline.errors import PipelineError
from serving import admin, errors, metrics, openapi, timing, tls, trace
from serving.errors import HTTPError, PayloadTooLarge, RouteNotFound
from serving.faults import Faults
from serving.protocol import OneWriteProtocol
from serving.settings import Settings

log = logging.getLogger("archbench.serving")
JSON = "application/json"
_JSON_BYTES = JSON.encode()


@dataclass
class Reply:
    """What a route handler answers: status, JSON body, and Server-Timing entries."""

    body: bytes
    status: int = 200
    timings: list[tuple[str, float]] = field(default_factory=list)


Handler = Callable[[bytes], Awaitable[Reply]]
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


class _PostRoute:
    """A POST route as a bare ASGI app: size-checked body in, handler's reply out, errors mapped.

    Bare ASGI because this is the per-request path of every hop: it skips FastAPI's routing,
    dependency solving and Request/Response objects, and answers exactly what a FastAPI route
    answering `Response(body, status, headers={"server-timing": ...}, media_type=JSON)` would.
    Being a class (not a function), Starlette's `Route` mounts it as ASGI as it stands.
    """

    def __init__(
        self, path: str, handler: Handler, body_limit: int, service: str, traced: bool
    ) -> None:
        self.path, self.handler, self.body_limit = path, handler, body_limit
        self.service, self.traced = service, traced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        traceparent = trace_id = None
        if self.traced:
            traceparent = trace.accept(_header(scope, trace.HEADER_BYTES))
            trace_id = trace.trace_id(traceparent)
            trace.current.set(traceparent)
        try:
            body = await read_body(scope, receive, self.body_limit)
            reply = await self.handler(body)
            status, payload, timings = reply.status, reply.body, reply.timings
        except (HTTPError, PipelineError) as exc:
            (status, payload), timings = errors.to_response(exc, self.service, trace_id), []
        except Exception as exc:  # process boundary: log the bug, answer without internals
            log.exception("unexpected error on POST %s (trace_id %s)", self.path, trace_id)
            (status, payload), timings = errors.to_response(exc, self.service, trace_id), []
        elapsed = time.perf_counter() - started
        metrics.observe(self.path, status, elapsed)
        if timings:
            timings.append(("total", elapsed * 1000))
        headers = _headers(payload, timings)
        if traceparent is not None:
            headers.append((trace.HEADER_BYTES, traceparent.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        if traceparent is not None:  # after the answer left: off the client's latency
            trace.log_access(self.service, self.path, traceparent, status, elapsed)


class _App(FastAPI):
    """FastAPI that hands its POST routes the request before any middleware or routing."""

    def __init__(self, post_routes: dict[str, _PostRoute], **options: Any) -> None:
        super().__init__(**options)
        self.post_routes = post_routes
        for path, route in post_routes.items():
            self.router.routes.append(Route(path, route, methods=["POST"]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only an exact, unprefixed path: anything else (other methods, trailing slashes, a
        # root path) goes through FastAPI, which routes it to the same _PostRoute or answers 404
        # or 405 as usual.
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = self.post_routes.get(scope["path"])
            if route is not None:
                await route(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (ASGI servers give names in lower case)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """Read a JSON body, refusing a wrong content type (415) or more than `limit` bytes (413)."""
    errors.check_content_type(_header(scope, b"content-type"))
    errors.check_length(_header(scope, b"content-length"), limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(body: bytes, timings: list[tuple[str, float]] | None) -> list[tuple[bytes, bytes]]:
    """Response headers in Starlette's order: server-timing, content-length, content-type."""
    raw = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON_BYTES)]
    if timings:
        raw.insert(0, (b"server-timing", timing.header(timings).encode("latin-1")))
    return raw


def _respond(status: int, body: bytes, timings: list[tuple[str, float]] | None = None) -> Response:
    headers = {"server-timing": timing.header(timings)} if timings else None
    return Response(body, status, headers=headers, media_type=JSON)


def create_app(
    name: str,
    settings: Settings,
    routes: Mapping[str, Handler],
    ready: Readiness,
    lifespan: Callable[[], AsyncIterator[None]],
    body_limit: int,
    faults: Faults | None = None,
    described: Callable[[], ModelBundle] | None = None,
) -> FastAPI:
    """Assemble an app: the POST routes, GET /healthz, /readyz, /metrics, JSON errors, the admin
    route when the settings enable it, and for a public entry (`described` gives its bundle once
    started) GET /openapi.json and /docs."""

    @asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        async with asynccontextmanager(lifespan)():
            yield

    post_routes = {
        path: _PostRoute(path, h, body_limit, name, settings.trace) for path, h in routes.items()
    }
    app = _App(
        post_routes, title=name, lifespan=run, docs_url=None, redoc_url=None, openapi_url=None
    )

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
    if described is not None:
        _add_pages(app, openapi.Pages(described, body_limit))
    if admin.enabled(settings):
        _add_admin(app, name, settings, faults or Faults(()))

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
        return _error(error, request, name, settings.trace)

    app.add_exception_handler(StarletteHTTPException, http_error)
    return app


def _add_pages(app: FastAPI, pages: openapi.Pages) -> None:
    def page(path: str) -> Callable[[], Awaitable[Response]]:
        async def get() -> Response:
            body, media_type = pages.page(path)
            return Response(body, media_type=media_type)

        return get

    for path in openapi.PATHS:
        app.add_api_route(path, page(path), methods=["GET"])


def _error(error: HTTPError, request: Request, service: str, traced: bool) -> Response:
    """The JSON error response of a route outside the POST routes, named as theirs are."""
    trace_id = trace.trace_id(trace.accept(request.headers.get(trace.HEADER))) if traced else None
    return _respond(*errors.to_response(error, service, trace_id))


def _add_admin(app: FastAPI, service: str, settings: Settings, faults: Faults) -> None:
    token, port = settings.admin_token or "", settings.admin_port

    async def admin_faults(request: Request) -> Response:
        server = request.scope.get("server") or ("", None)
        if server[1] != port:  # came in on the public listener: there is no such route
            missing = RouteNotFound(f"no route {request.method} {request.url.path}")
            return _error(missing, request, service, settings.trace)
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, body = admin.handle(request.method, await request.body(), headers, faults, token)
        return _respond(status, body)

    app.add_api_route(admin.PATH, admin_faults, methods=list(admin.ROUTED))


def serve(
    app: FastAPI | str, settings: Settings, workers: int = 1, tls_server: bool = False
) -> None:
    """Run an app under uvicorn with uvloop and httptools (one write per response), unlogged;
    with the admin listener as a second socket when the settings enable it.

    With `workers` > 1, `app` names a factory ("module:function") that each worker process calls;
    the workers share the one listening socket (uvicorn's supervisor binds it). Fault toggles
    live in one process, so such a server has no admin listener.

    `tls_server`: a stage's server, which with secured hops serves every listener (the admin one
    too, its token still required) over TLS and refuses a client without a valid certificate.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=OneWriteProtocol,
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        # A reload (SIGHUP) retires an old worker only once its replacement has loaded the
        # model; on a busy machine that takes longer than uvicorn's default of 5 s.
        timeout_worker_healthcheck=30,
        # Longer than the gateway pool's keep-alive, so the server never closes a pooled
        # connection the client is about to reuse.
        timeout_keep_alive=75,
        **(tls.uvicorn_options(settings) if tls_server else {}),
    )
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    sockets = None
    if admin.enabled(settings):
        assert settings.admin_port is not None
        public = config.bind_socket()  # exits as uvicorn does when the port is taken
        try:
            sockets = [public, admin.listener(settings.admin_port)]
        except OSError as exc:
            log.error("admin port %s: %s", settings.admin_port, exc)
            sys.exit(uvicorn.config.STARTUP_FAILURE)
    server.run(sockets=sockets)
    if not server.started:  # as uvicorn.run: a failed start-up is an exit code, not a 0
        sys.exit(uvicorn.config.STARTUP_FAILURE)
