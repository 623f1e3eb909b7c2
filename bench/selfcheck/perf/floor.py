"""The floor a hop can reach on this machine: a bare round trip through the gateway's own pooled
client to a minimal app, served as every service is, both on the system-under-test CPU.

The server is `python -m bench.selfcheck.perf.floor --port N`: an app that reads the request
body and answers a fixed one, under `serving.asgi.serve` (uvicorn, uvloop, httptools, the same
keep-alive) in a confinement of its own like a stage's. The client is `microservices.hops.
StageClient` on uvloop, run by this process pinned to the SUT CPU, as the gateway runs it there.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from subprocess import Popen, TimeoutExpired

import uvloop
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from bench.selfcheck.conditions import pinned
from bench.selfcheck.perf.result import Sample
from microservices.hops import StageClient
from pipeline.stages import STAGE_NAMES, STAGES
from serving.asgi import serve
from serving.settings import Settings
from stack.budget import Confinement
from stack.runner import READY_TIMEOUT_S, STOP_GRACE_S, StackError, port_free, spawn
from stack.topology import COMMON_ENV, Budget

BODY = b'{"ok":true}'
_HEADERS = [(b"content-length", str(len(BODY)).encode()), (b"content-type", b"application/json")]


class FloorApp(FastAPI):
    """Answers every HTTP request with BODY once its body is read; FastAPI keeps the lifespan."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        more = True
        while more:
            message = await receive()
            more = message["type"] == "http.request" and message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": BODY})


class FloorServer:
    """The floor's server process in its own confinement on the SUT CPU, stopped without orphans."""

    def __init__(self, port: int, budget: Budget, log: Path) -> None:
        self.port, self.log = port, log
        self.confinement = Confinement(f"floor-{os.getpid()}-{port}", budget)
        self.process: Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FloorServer:
        if not port_free(self.port):
            raise StackError(f"port {self.port} for the floor server is already in use")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.confinement.apply()
        argv = [sys.executable, "-m", "bench.selfcheck.perf.floor", "--port", str(self.port)]
        self.process = spawn(argv, dict(COMMON_ENV), self.log, self.confinement.join)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert self.process is not None
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise StackError(f"the floor server did not start; log: {self.log}", self.log)

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        self.confinement.remove()


async def timed_round_trips(
    url: str,
    payloads: Sequence[bytes],
    warmup: int,
    requests: int,
    server_cpu_ns: Callable[[], int | None],
) -> Sample:
    """`round_trips` to any floor server at `url` (bench.selfcheck.bridge: one in a container)."""
    # The gateway's client, every stage pointing at the floor server: each call is one hop.
    client = StageClient(Settings(stage_urls=dict.fromkeys(STAGE_NAMES, url)))
    await client.open()
    try:
        stage, n = STAGES[0], len(payloads)
        for i in range(warmup):
            await client.call(stage, payloads[i % n])
        clock = time.perf_counter_ns
        latencies_ns = []
        server_before, client_before = server_cpu_ns(), time.thread_time_ns()
        for i in range(requests):
            started = clock()
            hop = await client.call(stage, payloads[i % n])
            latencies_ns.append(clock() - started)
            if hop.status != 200:
                raise StackError(f"the floor server answered {hop.status}")
        client_ns, server_after = time.thread_time_ns() - client_before, server_cpu_ns()
    finally:
        await client.close()
    cpu_ms = None
    if server_before is not None and server_after is not None:
        cpu_ms = (server_after - server_before + client_ns) / requests / 1e6
    latencies_ns.sort()
    return Sample(
        requests,
        statistics.median(latencies_ns) / 1e6,
        latencies_ns[min(requests - 1, int(requests * 0.99))] / 1e6,
        cpu_ms,
    )


def round_trips(
    server: FloorServer, payloads: Sequence[bytes], warmup: int, requests: int
) -> Sample:
    """Sequential calls through a fresh client (its warm-up calls open the pooled connection)
    on the SUT CPU: latency per call, and CPU per call of client (this thread) and server
    together (None without a cgroup), over the measured calls only."""
    with pinned(server.confinement.cpus):
        return uvloop.run(
            timed_round_trips(
                server.url, payloads, warmup, requests, server.confinement.cpu_usage_ns
            )
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.selfcheck.perf.floor")
    parser.add_argument("--port", type=int, required=True)
    serve(FloorApp(), Settings(port=parser.parse_args().port))
