"""The monolith app: every public endpoint walks its stages as function calls."""

from __future__ import annotations

import ctypes
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from fastapi import FastAPI

from pipeline import bundle as bundles
from pipeline.bundle import Limits, ModelBundle
from pipeline.stages import STAGE_NAMES
from serving import errors
from serving.api import ENDPOINTS, Endpoint
from serving.asgi import Handler, Reply, create_app
from serving.faults import Faults
from serving.settings import Settings

_encode = msgspec.json.Encoder().encode
_PR_SET_PDEATHSIG = 1


def walk(model: ModelBundle, endpoint: Endpoint, body: bytes) -> Reply:
    """Run the endpoint's stages in-process, timing each one."""
    value: object = body
    timings: list[tuple[str, float]] = []
    for stage in endpoint.stages:
        started = time.perf_counter()
        try:
            value = stage.run(model, value)
        except Exception as exc:  # the error body names the stage, as a stage service's does
            errors.raised_in(exc, stage.name)
            raise
        timings.append((stage.name, (time.perf_counter() - started) * 1000))
    return Reply(_encode(endpoint.render(value)), timings=timings)


async def walk_faulty(model: ModelBundle, endpoint: Endpoint, body: bytes, faults: Faults) -> Reply:
    """`walk` with injected faults: each stage first suffers its own (its time includes them)."""
    value: object = body
    timings: list[tuple[str, float]] = []
    for stage in endpoint.stages:
        started = time.perf_counter()
        await faults.enter(stage.name)
        try:
            value = stage.run(model, value)
        except Exception as exc:
            errors.raised_in(exc, stage.name)
            raise
        timings.append((stage.name, (time.perf_counter() - started) * 1000))
    return Reply(_encode(endpoint.render(value)), timings=timings)


def build(settings: Settings) -> FastAPI:
    """Assemble the monolith for the given settings; the model loads during start-up."""
    state: dict[str, ModelBundle] = {}
    faults = Faults(STAGE_NAMES)

    async def lifespan() -> AsyncIterator[None]:
        state["model"] = load(settings.model_dir, settings.max_records)
        yield

    async def ready() -> tuple[bool, dict[str, object]]:
        return "model" in state, {}

    def handler(endpoint: Endpoint) -> Handler:
        async def handle(body: bytes) -> Reply:
            if faults.active:
                return await walk_faulty(state["model"], endpoint, body, faults)
            return walk(state["model"], endpoint, body)

        return handle

    routes = {e.path: handler(e) for e in ENDPOINTS}
    limit = settings.max_body_bytes
    return create_app(
        "monolith", settings, routes, ready, lifespan, limit, faults, lambda: state["model"]
    )


def worker() -> FastAPI:
    """The app of one worker process of a multi-worker monolith (uvicorn calls this factory)."""
    # The supervisor is killed with its process group; should it die alone, so does its worker.
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    return build(Settings.from_env())


def load(model_dir: Path, max_records: int) -> ModelBundle:
    """Load the whole bundle, model included."""
    return bundles.load(model_dir, limits=Limits(max_records=max_records))
