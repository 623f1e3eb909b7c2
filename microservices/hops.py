"""The gateway's client for stage services: one pooled keep-alive aiohttp session per process.

A stage with several replicas (its ARCHBENCH_<STAGE>_URL lists their addresses, comma-separated)
gets its calls spread over them in client-side round robin. With `retry_refused`, a call whose
connection is refused goes on to the next replicas in turn, each at most once: the request never
reached a stage, so trying another is safe whatever the stage does (a rolling update restarts
one replica at a time).
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import time

import aiohttp
from yarl import URL

from pipeline.stages import STAGE_NAMES, Stage
from serving import timing, tls, trace
from serving.errors import StageFailed, StageTimeout, StageUnavailable
from serving.settings import Settings

JSON_HEADERS = {"content-type": "application/json"}


class Hop:
    """The outcome of one stage call: its body and status, the stage's own time and the hop's."""

    __slots__ = ("body", "status", "stage_ms", "hop_ms")

    def __init__(self, body: bytes, status: int, stage_ms: float, hop_ms: float) -> None:
        self.body, self.status, self.stage_ms, self.hop_ms = body, status, stage_ms, hop_ms


class StageClient:
    """Calls stage services over a shared connection pool with explicit timeouts."""

    def __init__(self, settings: Settings) -> None:
        missing = [s for s in STAGE_NAMES if s not in settings.stage_urls]
        if missing:
            raise ValueError(f"no URL for stage(s) {', '.join(missing)}; set ARCHBENCH_<STAGE>_URL")
        self._bases = {n: u.split(",") for n, u in settings.stage_urls.items()}
        # Parsed once: a URL given as a string is parsed again on every request.
        self._urls = {
            name: [URL(f"{base}/{name}") for base in bases] for name, bases in self._bases.items()
        }
        self._turns = {name: itertools.count() for name in self._bases}
        self._retry_refused = settings.retry_refused
        # 0 means no timeout. aiohttp's total includes the wait for a pooled connection.
        # Secured hops: aiohttp's connect timeout would include the TLS handshake (inside
        # create_connection), CPU work of both ends that a burst of new pooled connections on
        # one shared CPU takes past 0.5 s (64 handshakes to one stage: ~0.5 s here) though the
        # stage is reachable. The stage timeout bounds the whole call, handshake included.
        connect_s = None if settings.secure_hops else settings.connect_timeout_s or None
        self._timeout = aiohttp.ClientTimeout(
            total=settings.stage_timeout_s or None, connect=connect_s
        )
        self._timeout_s = settings.stage_timeout_s
        self._probe_timeout = aiohttp.ClientTimeout(total=1.0)
        self._pool_size = settings.pool_size
        self._pool_per_stage = settings.pool_per_stage
        self._session: aiohttp.ClientSession | None = None
        self._ssl = tls.gateway_context(settings)

    async def open(self) -> None:
        # Every stage is its own host:port, so limit_per_host is a per-stage limit (0: none).
        # With secured hops the pool's connections are mutual TLS: the handshake is paid once
        # per pooled connection, the encryption on every call.
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=self._pool_per_stage,
            keepalive_timeout=30,
            ssl=self._ssl if self._ssl is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, stage: Stage, payload: bytes) -> Hop:
        """POST the payload to the stage's next replica (a refused one: on to the following
        replicas, with `retry_refused`); map network failures to the stage's HTTP errors."""
        urls = self._urls[stage.name]
        turn = next(self._turns[stage.name])
        last = len(urls) - 1 if self._retry_refused else 0
        for k in range(last):
            try:
                return await self._post(stage, urls[(turn + k) % len(urls)], payload, True)
            except aiohttp.ClientConnectorError:
                continue  # refused: on to the next replica
        return await self._post(stage, urls[(turn + last) % len(urls)], payload)

    def _unavailable(self, stage: Stage, exc: Exception) -> StageUnavailable:
        return StageUnavailable(
            f"stage {stage.name!r} is unavailable: {exc.__class__.__name__}", stage.name
        )

    async def _post(self, stage: Stage, url: URL, payload: bytes, retried: bool = False) -> Hop:
        """One POST to one replica; with `retried` (the caller tries another replica next) a
        refused connection raises aiohttp's ClientConnectorError as it is."""
        assert self._session is not None
        # The request's traceparent as the client sent it (or as the gateway started it):
        # unchanged on every hop, so each stage logs the same value (serving/trace.py).
        traceparent = trace.current.get()
        headers = {**JSON_HEADERS, trace.HEADER: traceparent} if traceparent else JSON_HEADERS
        started = time.perf_counter()
        try:
            async with self._session.post(url, data=payload, headers=headers) as response:
                body = await response.read()
                status = response.status
                server_timing = response.headers.get("server-timing")
        except TimeoutError:
            raise StageTimeout(
                f"stage {stage.name!r} did not answer within {self._timeout_s:g} s", stage.name
            ) from None
        except aiohttp.ClientError as exc:
            if retried and _refused(exc):
                raise
            raise self._unavailable(stage, exc) from None
        total_ms = (time.perf_counter() - started) * 1000
        if status >= 500:
            raise StageFailed(f"stage {stage.name!r} failed with HTTP {status}", stage.name)
        stage_ms = timing.parse(server_timing).get(stage.name, 0.0)
        return Hop(body, status, stage_ms, total_ms - stage_ms)

    async def readiness(self) -> dict[str, bool]:
        """Ask every replica of every stage for /readyz concurrently; a stage is ready when all
        of its replicas are."""
        assert self._session is not None
        session = self._session

        async def probe(base: str) -> bool:
            try:
                async with session.get(f"{base}/readyz", timeout=self._probe_timeout) as r:
                    return r.status == 200
            except (TimeoutError, aiohttp.ClientError):
                return False

        async def stage_ready(bases: list[str]) -> bool:
            return all(await asyncio.gather(*(probe(b) for b in bases)))

        names = list(self._bases)
        results = await asyncio.gather(*(stage_ready(self._bases[n]) for n in names))
        return dict(zip(names, results, strict=True))


def _refused(exc: aiohttp.ClientError) -> bool:
    """Whether the connection was refused: the request never reached the stage."""
    os_error = getattr(exc, "os_error", None)
    return isinstance(exc, aiohttp.ClientConnectorError) and (
        getattr(os_error, "errno", None) == errno.ECONNREFUSED
    )
