"""The gateway: the monolith's public API, walking the same stages over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from fastapi import FastAPI

from microservices.hops import StageClient
from serving.api import ENDPOINTS, Endpoint
from serving.asgi import Handler, Reply, create_app
from serving.settings import Settings
from serving.timing import HOP_SUFFIX

_encode = msgspec.json.Encoder().encode


async def walk(client: StageClient, endpoint: Endpoint, body: bytes) -> Reply:
    """Send the body through the endpoint's stages; a stage's 4xx is relayed unchanged."""
    payload = body
    timings: list[tuple[str, float]] = []
    for stage in endpoint.stages:
        hop = await client.call(stage, payload)
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

    async def lifespan() -> AsyncIterator[None]:
        await client.open()
        yield
        await client.close()

    async def ready() -> tuple[bool, dict[str, object]]:
        stages = await client.readiness()
        return all(stages.values()), {"stages": stages}

    def handler(endpoint: Endpoint) -> Handler:
        async def handle(body: bytes) -> Reply:
            return await walk(client, endpoint, body)

        return handle

    routes = {e.path: handler(e) for e in ENDPOINTS}
    return create_app("gateway", settings, routes, ready, lifespan, settings.max_body_bytes)
