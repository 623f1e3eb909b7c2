"""Both architectures, started for real, give identical answers to the same requests."""

from __future__ import annotations

import json
import random

import pytest

from bench.load.payloads import perturbed
from pipeline.bundle import ModelBundle
from pipeline.records import ErrorBody
from pipeline.schema import Schema
from stack.runner import Stack
from tests.conftest import Answer, comparable, request

GOOD = {
    "island": "Dream",
    "bill_length_mm": 49.0,
    "bill_depth_mm": 19.5,
    "flipper_length_mm": 210,
    "body_mass_g": 3950,
    "sex": "male",
}


def valid_requests(
    records: list[dict[str, object]], schema: Schema, rng: random.Random
) -> list[bytes]:
    """150 single records and 10 batches of 8: 230 valid records."""
    sample = [perturbed(r, schema, rng) for r in rng.choices(records, k=230)]
    singles = [json.dumps(r).encode() for r in sample[:150]]
    batches = [json.dumps({"records": sample[i : i + 8]}).encode() for i in range(150, 230, 8)]
    return singles + batches


def without(key: str) -> dict[str, object]:
    return {k: v for k, v in GOOD.items() if k != key}


INVALID: list[tuple[bytes, str | None]] = [
    # malformed JSON → 400
    (b"{bad", "application/json"),
    (b"", "application/json"),
    (b'{"island": "Dream",', "application/json"),
    (b'{"a": NaN}', "application/json"),
    (b"\xff\xfe", "application/json"),
    # wrong shapes → 422
    (b"[1, 2]", "application/json"),
    (b'"text"', "application/json"),
    (b"null", "application/json"),
    (b'{"records": 3}', "application/json"),
    (b'{"records": []}', "application/json"),
    (b'{"records": [1, "x", null]}', "application/json"),
    (json.dumps({"records": [GOOD], "debug": True}).encode(), "application/json"),
    (json.dumps({"records": [GOOD] * 1025}).encode(), "application/json"),
    # field problems → 422
    *((json.dumps(without(k)).encode(), "application/json") for k in GOOD),
    (json.dumps({**GOOD, "island": "Atlantis"}).encode(), "application/json"),
    (json.dumps({**GOOD, "sex": "unknown"}).encode(), "application/json"),
    (json.dumps({**GOOD, "sex": None}).encode(), "application/json"),
    (json.dumps({**GOOD, "body_mass_g": -1}).encode(), "application/json"),
    (json.dumps({**GOOD, "body_mass_g": 1e308}).encode(), "application/json"),
    (json.dumps({**GOOD, "bill_length_mm": "49.0"}).encode(), "application/json"),
    (json.dumps({**GOOD, "bill_depth_mm": True}).encode(), "application/json"),
    (json.dumps({**GOOD, "flipper_length_mm": [210]}).encode(), "application/json"),
    (json.dumps({**GOOD, "wing_span": 3}).encode(), "application/json"),
    (json.dumps({"records": [GOOD, without("sex"), {**GOOD, "island": 1}]}).encode(), None),
    (
        json.dumps({"records": [GOOD, without("sex"), {**GOOD, "island": 1}]}).encode(),
        "application/json",
    ),
    # wrong content type → 415; too large → 413
    (json.dumps(GOOD).encode(), "text/plain"),
    (json.dumps(GOOD).encode(), "application/x-www-form-urlencoded"),
    (json.dumps({"records": [GOOD] * 20000}).encode(), "application/json"),
]


def answers(stack: Stack, path: str, bodies: list[tuple[bytes, str | None]]) -> list[Answer]:
    return [request(stack.url, path, body, ctype) for body, ctype in bodies]


@pytest.fixture(scope="module")
def stacks(monolith: Stack, micro: Stack, micro_flask: Stack) -> list[Stack]:
    return [monolith, micro, micro_flask]


@pytest.mark.parametrize("path", ["/predict", "/validate"])
def test_valid_requests_get_identical_answers(
    stacks: list[Stack],
    records: list[dict[str, object]],
    model: ModelBundle,
    rng: random.Random,
    path: str,
) -> None:
    bodies = [(b, "application/json") for b in valid_requests(records, model.schema, rng)]
    reference = answers(stacks[0], path, bodies)
    assert {a.status for a in reference} == {200}
    if path == "/predict":
        n = sum(len(json.loads(a.body)["predictions"]) for a in reference)
        assert n == 230
    for other in stacks[1:]:
        got = answers(other, path, bodies)
        assert [(a.status, a.body) for a in got] == [(a.status, a.body) for a in reference], (
            other.arch
        )


@pytest.mark.parametrize("path", ["/predict", "/validate"])
def test_invalid_requests_get_identical_errors(stacks: list[Stack], path: str) -> None:
    reference = answers(stacks[0], path, INVALID)
    statuses = [a.status for a in reference]
    assert statuses.count(400) == 5 and statuses.count(415) == 3 and statuses.count(413) == 1
    assert statuses.count(422) == len(INVALID) - 9
    for answer in reference:
        body = json.loads(answer.body)
        assert set(body) <= set(ErrorBody.__struct_fields__) and body["message"]
        if answer.status == 422:
            assert all(p["field"] and p["problem"] for p in body["problems"])
    for other in stacks[1:]:
        got = answers(other, path, INVALID)
        assert [comparable(a) for a in got] == [comparable(a) for a in reference], other.arch


def test_unknown_routes_and_methods(stacks: list[Stack]) -> None:
    cases = [("GET", "/nope"), ("POST", "/nope"), ("GET", "/predict"), ("DELETE", "/validate")]
    for stack in stacks:
        got = [request(stack.url, path, None, None, method) for method, path in cases]
        assert [a.status for a in got] == [404, 404, 405, 405], stack.arch
        body = json.loads(got[0].body)
        assert body.pop("stage") == ("monolith" if stack.arch == "monolith" else "gateway")
        assert len(body.pop("trace_id")) == 32
        assert body == {"error": "not_found", "message": "no route GET /nope"}


def test_health_readiness_metrics_and_timing(stacks: list[Stack]) -> None:
    for stack in stacks:
        assert request(stack.url, "/healthz", method="GET").status == 200
        assert json.loads(request(stack.url, "/readyz", method="GET").body)["ready"] is True
        answer = request(stack.url, "/predict", json.dumps(GOOD).encode())
        names = [entry.split(";")[0] for entry in answer.headers["server-timing"].split(", ")]
        stages = ["ingest", "validate", "features", "score"]
        if stack.arch == "monolith":
            assert names == [*stages, "total"]
        else:
            hops = [n for s in stages for n in (s, s + "-hop")]
            assert names == [*hops, "total"]
        page = request(stack.url, "/metrics", method="GET").body.decode()
        assert 'archbench_requests_total{route="/predict",status="200"}' in page
