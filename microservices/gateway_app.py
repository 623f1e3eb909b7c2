"""The gateway: the monolith's public API, walking the same stages over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from fastapi import FastAPI

from microservices.hops import StageClient
from microservices.resilience import Caller, Fallback, Guarded
from pipeline import bundle as bundles
from pipeline.bundle import Limits
from serving.api import ENDPOINTS, Endpoint
from serving.asgi import Handler, Reply, create_app
from serving.errors import StageError
from serving.settings import Settings
from serving.timing import HOP_SUFFIX

_encode = msgspec.json.Encoder().encode


async def walk(
    client: Caller, endpoint: Endpoint, body: bytes, fallback: Fallback | None = None
) -> Reply:
    """Send the body through the endpoint's stages; a stage's 4xx is relayed unchanged. With a
    fallback, a model stage that cannot answer gets the degraded answer instead of an error."""
    payload = body
    timings: list[tuple[str, float]] = []
    for stage in endpoint.stages:
        try:
            hop = await client.call(stage, payload)
        except StageError:
            if fallback is None or not stage.needs_model:
                raise
            return fallback.reply(stage, payload, timings)
        timings += [(stage.name, hop.stage_ms), (stage.name + HOP_SUFFIX, hop.hop_ms)]
        if hop.status != 200:
            return Reply(hop.body, hop.status, timings)
        payload = hop.body
    last = endpoint.stages[-1]
    value: object = msgspec.json.decode(payload, type=last.output_type)
    return Reply(_encode(endpoint.render(value)), timings=timings)


def build(settings: Settings) -> FastAPI:
    """Assemble the gateway for the given settings (stage URLs included)."""
    client = StageClient(settings)
    caller: Caller = Guarded(client, settings) if settings.retries or settings.breaker else client
    # Schema and metadata only: for the API's description and the fallback's class prior.
    limits = Limits(max_records=settings.max_records)
    described = bundles.load(settings.model_dir, with_model=False, limits=limits)
    fallbacks: dict[str, Fallback] = {}
    if settings.fallback:
        fallbacks["/predict"] = Fallback(described.metadata)

    async def lifespan() -> AsyncIterator[None]:
        await client.open()
        yield
        await client.close()

    async def ready() -> tuple[bool, dict[str, object]]:
        stages = await client.readiness()
        detail: dict[str, object] = {"stages": stages}
        if isinstance(caller, Guarded) and caller.breakers:
            detail["circuits"] = caller.states()
        return all(stages.values()), detail

    def handler(endpoint: Endpoint) -> Handler:
        fallback = fallbacks.get(endpoint.path)

        async def handle(body: bytes) -> Reply:
            return await walk(caller, endpoint, body, fallback)

        return handle

    routes = {e.path: handler(e) for e in ENDPOINTS}
    limit = settings.max_body_bytes
    return create_app(
        "gateway", settings, routes, ready, lifespan, limit, described=lambda: described
    )
