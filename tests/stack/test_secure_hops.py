"""Secured hops, on a real micro-flask stack (uvicorn and gunicorn stages): a stage refuses a
client without a certificate from the stack's CA, and the switch changes no answer."""

from __future__ import annotations

import http.client
import random
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.run.injection import admin
from pipeline.bundle import ModelBundle
from stack import certs
from stack.runner import Stack
from tests.conftest import comparable, free_base_port, processes_on_ports
from tests.serving.test_parity import INVALID, answers, valid_requests

# `score` is served by uvicorn, `features` by gunicorn in micro-flask.
STAGES = ("score", "features")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("logs-secured")
    stack = Stack("micro-flask", free_base_port(), log_dir=logs, secure_hops=True)
    with stack:
        yield stack
    assert not processes_on_ports({s.port for s in stack.services}), "stack left processes"
    assert stack.identities and not stack.identities["gateway"].ca_file.exists()


def get_readyz(stack: Stack, stage: str, context: ssl.SSLContext | None) -> int:
    """GET a stage's /readyz over TLS with this client context (None: plain HTTP)."""
    port = stack.service(stage).port
    connection: http.client.HTTPConnection
    if context is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    else:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status
    finally:
        connection.close()


def server_checked(stack: Stack) -> ssl.SSLContext:
    """A client that trusts the stack's CA but presents no certificate."""
    return ssl.create_default_context(cafile=str(stack.identities["harness"].ca_file))


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_answers_a_client_with_the_stacks_certificate(secured: Stack, stage: str) -> None:
    assert get_readyz(secured, stage, secured.client_ssl()) == 200


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_refuses_a_client_without_a_certificate(secured: Stack, stage: str) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        get_readyz(secured, stage, server_checked(secured))


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_refuses_a_certificate_from_another_ca(
    secured: Stack, stage: str, tmp_path: Path
) -> None:
    stranger = certs.authority(tmp_path, ["gateway"], "stranger")["gateway"]
    context = server_checked(secured)
    context.load_cert_chain(str(stranger.cert_file), str(stranger.key_file))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        get_readyz(secured, stage, context)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_refuses_plain_http(secured: Stack, stage: str) -> None:
    with pytest.raises(ConnectionError):
        get_readyz(secured, stage, None)


def test_the_admin_listener_speaks_tls_and_still_wants_the_token(secured: Stack) -> None:
    assert admin(secured, "score", "GET") is not None
    context = secured.client_ssl()
    connection = http.client.HTTPSConnection(
        "127.0.0.1", secured.service("score").admin_port, timeout=5, context=context
    )
    try:
        connection.request("GET", "/admin/faults")
        assert connection.getresponse().status == 401
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/predict", "/validate"])
def test_the_switch_changes_no_answer(
    secured: Stack,
    micro_flask: Stack,
    records: list[dict[str, object]],
    model: ModelBundle,
    path: str,
) -> None:
    rng = random.Random(11)
    bodies = [(b, "application/json") for b in valid_requests(records, model.schema, rng)]
    bodies += INVALID
    plain = answers(micro_flask, path, bodies)
    got = answers(secured, path, bodies)
    assert {a.status for a in plain} >= {200, 400, 413, 415, 422}
    assert [comparable(a) for a in got] == [comparable(a) for a in plain]
    # The secured answers did take the hops (over TLS): the gateway timed each one.
    assert "validate-hop" in got[0].headers["server-timing"]


def test_the_monolith_has_no_hops_to_secure(tmp_path: Path) -> None:
    stack = Stack("monolith", free_base_port(), log_dir=tmp_path, secure_hops=True)
    assert not stack.secure_hops and stack.base_url(stack.entry).startswith("http://")
