"""A stage service: `POST /<stage>` decodes the stage input, runs the stage, encodes its output."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from fastapi import FastAPI

from pipeline import bundle as bundles
from pipeline.bundle import Limits, ModelBundle
from pipeline.errors import MalformedBody
from pipeline.stages import Stage
from serving.asgi import Reply, create_app
from serving.faults import Faults
from serving.settings import Settings

_encode = msgspec.json.Encoder().encode


def input_decoder(stage: Stage) -> Callable[[bytes], Any]:
    """Decode a stage's wire input; the raw body passes through for `ingest`."""
    if stage.input_type is None:
        return lambda body: body
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(stage.input_type)
    name = stage.input_type.__name__

    def decode(body: bytes) -> Any:
        try:
            return decoder.decode(body)
        # A stage is a server too: whatever it is sent, a bad body is the caller's 400.
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError) as exc:
            raise MalformedBody(f"body is not a valid {name}: {exc}") from None

    return decode


def run_stage(
    stage: Stage, model: ModelBundle, body: bytes, decode: Callable[[bytes], Any]
) -> Reply:
    """Decode, run and encode one stage call; the timing covers the stage's own work only."""
    value = decode(body)
    started = time.perf_counter()
    output = stage.run(model, value)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Reply(_encode(output), timings=[(stage.name, elapsed_ms)])


def with_wait(reply: Reply, waited_s: float) -> Reply:
    """Count an injected wait in the stage's own time: the stage took that much longer."""
    if waited_s:
        reply.timings = [(name, ms + waited_s * 1000) for name, ms in reply.timings]
    return reply


def load_for(stage: Stage, settings: Settings) -> ModelBundle:
    """Load what the stage needs: the whole model only for stages that use it."""
    limits = Limits(max_records=settings.max_records)
    return bundles.load(settings.model_dir, with_model=stage.needs_model, limits=limits)


def build(stage: Stage, settings: Settings) -> FastAPI:
    """Assemble the service for one stage."""
    state: dict[str, ModelBundle] = {}
    decode = input_decoder(stage)
    faults = Faults((stage.name,))

    async def lifespan() -> AsyncIterator[None]:
        state["model"] = load_for(stage, settings)
        yield

    async def ready() -> tuple[bool, dict[str, object]]:
        return "model" in state, {"stage": stage.name}

    async def handle(body: bytes) -> Reply:
        if faults.active:
            waited_s = await faults.enter(stage.name)
            return with_wait(run_stage(stage, state["model"], body, decode), waited_s)
        return run_stage(stage, state["model"], body, decode)

    routes = {"/" + stage.name: handle}
    limit = settings.max_internal_body_bytes
    return create_app(stage.name, settings, routes, ready, lifespan, limit, faults)
