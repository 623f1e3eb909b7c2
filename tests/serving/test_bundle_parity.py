"""Both architectures, started for real on each bundle `archbench bundle` made from a real model,
give byte-identical answers: predictions the model itself makes, and the same errors."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline import bundle as bundles
from pipeline.schema import Field, Schema
from stack.runner import Stack
from tests.bundles import SPECS, Made, made
from tests.conftest import Answer, comparable, free_base_port, processes_on_ports
from tests.conftest import request as http

SEED = 11
SINGLES, BATCHES, BATCH = 200, 5, 8
ARCHS = ("monolith", "micro")


@pytest.fixture(scope="session")
def made_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    return made(tmp_path_factory)


@dataclass
class Served:
    """One bundle and the two stacks serving it."""

    made: Made
    schema: Schema
    records: list[dict[str, Any]]
    stacks: list[Stack]

    def answers(self, path: str, bodies: list[bytes]) -> list[list[Answer]]:
        """Each stack's answers to the bodies, in order."""
        return [[http(s.url, path, body) for body in bodies] for s in self.stacks]


@pytest.fixture(scope="module", params=list(SPECS))
def served(
    request: pytest.FixtureRequest,
    made_bundles: dict[str, Made],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """A monolith and a micro stack on one bundle, stopped after the bundle's tests."""
    bundle = made_bundles[request.param]
    settings = {"model_dir": bundle.directory}
    stacks = [
        Stack(
            arch,
            free_base_port(),
            log_dir=tmp_path_factory.mktemp(f"logs-{request.param}-{arch}"),
            settings=settings,
        )
        for arch in ARCHS
    ]
    started: list[Stack] = []
    try:
        for stack in stacks:
            stack.start()
            started.append(stack)
        schema = bundles.load(bundle.directory, with_model=False).schema
        yield Served(bundle, schema, bundles.records(bundle.directory), stacks)
    finally:
        for stack in started:
            stack.stop()
    ports = {s.port for stack in stacks for s in stack.services}
    assert not processes_on_ports(ports), "a stack left processes"


def same(answers: list[list[Answer]]) -> list[Answer]:
    """The first stack's answers, once every stack's are identical to them (status, content type
    and body: byte for byte, an error's trace-id and answering entry aside)."""
    keyed = [[(a.headers.get("content-type"), comparable(a)) for a in got] for got in answers]
    for arch, got in zip(ARCHS[1:], keyed[1:], strict=True):
        assert got == keyed[0], arch
    return answers[0]


def test_valid_records_get_the_models_predictions(served: Served) -> None:
    rng = random.Random(SEED)
    chosen = rng.sample(range(len(served.records)), SINGLES + BATCHES * BATCH)
    groups = [[i] for i in chosen[:SINGLES]]
    groups += [chosen[SINGLES + b * BATCH : SINGLES + (b + 1) * BATCH] for b in range(BATCHES)]
    bodies = [
        json.dumps(
            served.records[g[0]] if len(g) == 1 else {"records": [served.records[i] for i in g]}
        ).encode()
        for g in groups
    ]
    reference = same(served.answers("/predict", bodies))
    assert {(a.status, a.headers["content-type"]) for a in reference} == {(200, "application/json")}

    spec = served.made.spec
    x = served.made.inputs
    predictions = []
    for answer, group in zip(reference, groups, strict=True):
        body = json.loads(answer.body)
        assert body["model_version"] == "2.1" and len(body["predictions"]) == len(group)
        predictions += body["predictions"]
    rows = x.iloc[[i for g in groups for i in g]]
    assert len(predictions) == SINGLES + BATCHES * BATCH
    if spec.task == "classifier":
        assert {frozenset(p) for p in predictions} == {frozenset({"label", "probability"})}
        assert [p["label"] for p in predictions] == [str(c) for c in spec.model.predict(rows)]
        best = spec.model.predict_proba(rows).max(axis=1).tolist()
        assert [p["probability"] for p in predictions] == pytest.approx(best, rel=1e-9)
    else:
        assert {frozenset(p) for p in predictions} == {frozenset({"value"})}
        expected = spec.model.predict(rows).tolist()
        assert [p["value"] for p in predictions] == pytest.approx(expected, rel=1e-9)


def test_every_nullable_field_may_be_null_at_once(served: Served) -> None:
    nullable = [f.name for f in served.schema.fields if f.nullable]
    assert bool(nullable) == (served.made.name == "penguins-missing")
    record = {**served.records[0], **dict.fromkeys(nullable)}
    (answer,) = same(served.answers("/predict", [json.dumps(record).encode()]))
    assert answer.status == 200, answer.body
    assert len(json.loads(answer.body)["predictions"]) == 1


def damaged(field: Field) -> list[tuple[Any, str]]:
    """Values the field must refuse, each with the start of the problem it must name."""
    cases: list[tuple[Any, str]] = [] if field.nullable else [(None, "must not be null")]
    if field.kind in ("numeric", "integer"):
        assert field.min is not None and field.max is not None
        span = field.max - field.min
        cases += [("12", "must be a number"), (True, "must be a number"), ([1], "must be a number")]
        cases += [
            (field.max + span + 1, "must be between"),
            (field.min - span - 1, "must be between"),
        ]
        if field.kind == "integer":
            cases.append((math.floor(field.min + span / 2) + 0.5, "must be a whole number"))
    elif field.kind == "categorical":
        cases += [("Atlantis", "must be one of: "), (3, "must be a string, one of: ")]
        cases.append((field.categories[0] + "x", "must be one of: "))
    elif field.kind == "boolean":
        cases += [("yes", "must be true or false"), (1, "must be true or false")]
    else:
        assert field.max_length is not None
        cases += [("x" * (field.max_length + 1), f"must be at most {field.max_length} characters")]
        cases += [(5, "must be a string"), ({"text": "a"}, "must be a string")]
    return cases


def invalid_requests(served: Served) -> list[tuple[bytes, list[tuple[str, str]]]]:
    """Damaged records, alone and inside batches, each with the (field, problem) it must get."""
    good = served.records[0]
    cases: list[tuple[bytes, list[tuple[str, str]]]] = []
    for field in served.schema.fields:
        missing = {k: v for k, v in good.items() if k != field.name}
        cases.append((json.dumps(missing).encode(), [(field.name, "is required")]))
        for value, problem in damaged(field):
            record = {**good, field.name: value}
            cases.append((json.dumps(record).encode(), [(field.name, problem)]))
    extra = "Delta 14 C (o/oo)"
    cases.append((json.dumps({**good, extra: 1.0}).encode(), [(extra, "is not a model input")]))
    first, last = served.schema.fields[0], served.schema.fields[-1]
    batch = served.records[1 : 1 + BATCH]
    batch[2] = {k: v for k, v in batch[2].items() if k != first.name}
    batch[5] = {**batch[5], last.name: damaged(last)[-1][0], extra: 0}
    expected = [
        (f"records[2].{first.name}", "is required"),
        (f"records[5].{last.name}", damaged(last)[-1][1]),
        (f"records[5].{extra}", "is not a model input"),
    ]
    cases.append((json.dumps({"records": batch}).encode(), expected))
    return cases


@pytest.mark.parametrize("path", ["/predict", "/validate"])
def test_damaged_records_get_identical_errors_naming_the_field(served: Served, path: str) -> None:
    cases = invalid_requests(served)
    assert len(cases) >= 30
    reference = same(served.answers(path, [body for body, _ in cases]))
    for answer, (body, expected) in zip(reference, cases, strict=True):
        assert answer.status == 422, body
        assert answer.headers["content-type"] == "application/json"
        error = json.loads(answer.body)
        assert error["error"] == "invalid_records" and error["message"], error
        got = [(p["field"], p["problem"]) for p in error["problems"]]
        assert [f for f, _ in got] == [f for f, _ in expected], body
        for (_, problem), (_, start) in zip(got, expected, strict=True):
            assert problem.startswith(start), (body, problem)
