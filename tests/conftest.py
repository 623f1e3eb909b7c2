"""Shared fixtures: the demo bundle, real stacks on loopback, and a raw HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from pipeline import bundle as bundles
from pipeline import dataset
from pipeline.bundle import ModelBundle
from pipeline.paths import DEFAULT_MODEL_DIR
from stack.runner import Stack, port_free

_used_bases: set[int] = set()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    base_url: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = "application/json",
    method: str = "POST",
    timeout_s: float = 10.0,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request on a fresh connection; returns status, lower-cased headers and body."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        sent = {"content-type": content_type} if content_type else {}
        conn.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


# The process answering an error raised before any stage ran: named in the error body's
# `stage`, the one field in which the architectures' answers differ on purpose.
ENTRIES = ("monolith", "gateway")


def comparable(answer: Answer) -> tuple[int, object]:
    """An answer as it must be alike in every architecture: the status and the body, an error's
    trace-id (one per request) and the name of the answering entry process left out."""
    if answer.status < 400:
        return answer.status, answer.body
    body = json.loads(answer.body)
    body.pop("trace_id", None)
    if body.get("stage") in ENTRIES:
        body["stage"] = "entry"
    return answer.status, body


def free_base_port(start: int | None = None, span: int = 10) -> int:
    """A base port whose next `span` ports (services, then their admin listeners) are all free,
    not handed out before in this run. Test runs in other checkouts may pick ports at the same
    time: each run starts its search somewhere else (below the kernel's ephemeral ports)."""
    if start is None:
        start = 18000 + os.getpid() % 140 * 100
    for base in range(start, 60000, 10):
        if base not in _used_bases and all(port_free(base + i) for i in range(span)):
            _used_bases.add(base)
            return base
    raise RuntimeError("no free ports")


def processes_on_ports(ports: set[int]) -> list[psutil.Process]:
    """Processes whose command line names one of the ports (how the runner passes them)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        for i, arg in enumerate(cmdline[:-1]):
            if arg == "--port" and cmdline[i + 1].isdigit() and int(cmdline[i + 1]) in ports:
                found.append(proc)
    return found


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (DEFAULT_MODEL_DIR / bundles.MANIFEST_FILE).exists():
        pytest.fail("no model bundle; run `make test`, which trains it first")
    return DEFAULT_MODEL_DIR


@pytest.fixture(scope="session")
def model(model_dir: Path) -> ModelBundle:
    return bundles.load(model_dir)


@pytest.fixture(scope="session")
def records() -> list[dict[str, object]]:
    """Dataset records without the target, as a client would send them."""
    return [{k: v for k, v in r.items() if k != dataset.TARGET} for r in dataset.records()]


@pytest.fixture
def rng() -> random.Random:
    return random.Random(7)


def _stack(arch: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp(f"logs-{arch}")
    stack = Stack(arch, free_base_port(), log_dir=logs)
    with stack:
        yield stack
    assert not processes_on_ports({s.port for s in stack.services}), "stack left processes"


@pytest.fixture(scope="session")
def monolith(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    yield from _stack("monolith", tmp_path_factory)


@pytest.fixture(scope="session")
def micro(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    yield from _stack("micro", tmp_path_factory)


@pytest.fixture(scope="session")
def micro_flask(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    yield from _stack("micro-flask", tmp_path_factory)
