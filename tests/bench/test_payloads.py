"""The load is the bundle's own data: every valid payload is one the schema accepts, every invalid
one it rejects, perturbed values stay within their field's rules, no payload comes from outside
the bundle's records, and the pool is a function of its seed. On the demo bundle and on a small
hand-made bundle with every kind of field."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.config import BenchConfig, ConfigError
from bench.load import payloads
from bench.load.payloads import JITTER_MAX, Payload, Source
from pipeline import bundle as bundles
from pipeline import stages
from pipeline.errors import BundleError
from pipeline.records import Problem, Value
from pipeline.schema import Field, Schema, check_record

TOY = Schema(
    (
        Field("size", "numeric", min=0.0, max=10.0, nullable=True),
        Field("rooms", "integer", min=1, max=5),
        Field("colour", "categorical", categories=("blue", "red")),
        Field("garden", "boolean"),
        Field("notes", "text", max_length=30, nullable=True),
        Field("age", "numeric", min=-5.0, max=5.0),
    )
)
TOY_RECORDS: list[dict[str, Any]] = [
    # at the top and the bottom of every range: jitter must not leave it
    {"size": 10.0, "rooms": 5, "colour": "red", "garden": True, "notes": "sunny flat", "age": 5.0},
    {"size": 0.0, "rooms": 1, "colour": "blue", "garden": False, "notes": None, "age": -5.0},
    # a category in another case, a null
    {
        "size": None,
        "rooms": 3,
        "colour": "Blue",
        "garden": True,
        "notes": "by the station",
        "age": 1,
    },
    {"size": 4.2, "rooms": 2, "colour": "red", "garden": False, "notes": "x" * 30, "age": -1.25},
    # the schema rejects this one (size out of range): it must never be sent
    {"size": 99.0, "rooms": 2, "colour": "red", "garden": False, "notes": "never sent", "age": 0},
]


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle folder written by the bundle module, with a model file never loaded here."""
    directory = tmp_path_factory.mktemp("toy")
    model = directory.parent / "model.joblib"
    model.write_bytes(b"not a model: the load needs only the schema and the records")
    metadata = {"name": "toy", "version": "0.1", "task": "regressor"}
    bundles.write(directory, model, TOY, TOY_RECORDS, metadata)
    return directory


@pytest.fixture(scope="module", params=["demo", "toy"])
def source(request: pytest.FixtureRequest, toy_dir: Path) -> Source:
    if request.param == "demo":
        return payloads.source(request.getfixturevalue("model_dir"))
    return payloads.source(toy_dir)


def checked(source: Source, payload: Payload) -> list[tuple[list[Value], list[Problem]]]:
    """Each record of a payload as the server sees it (after ingest), checked by the schema."""
    batch = stages.ingest(source.bundle, payload.body)
    return [check_record(source.schema, r, "") for r in batch.records]


def test_valid_payloads_pass_the_schema_and_invalid_ones_fail_it(source: Source) -> None:
    pool = payloads.pool(source, seed=7, size=600, invalid_share=0.3)
    invalid = [p for p in pool if p.expected_status == 422]
    assert 0.2 < len(invalid) / len(pool) < 0.4
    assert {p.expected_status for p in pool} == {200, 422}
    for payload in pool:
        problems = [found for _, found in checked(source, payload)]
        if payload.expected_status == 200:
            assert not any(problems), (payload.body, problems)
        else:
            # exactly one record of the request is broken
            assert sum(1 for found in problems if found) == 1, (payload.body, problems)
    # the request names, paths and sizes are the mix's
    for payload in pool:
        path, n_records, _ = payloads.DEFAULT_MIX[payload.name]
        assert payload.path == path and len(checked(source, payload)) == n_records


def test_invalid_payloads_break_every_kind_of_rule(toy_dir: Path) -> None:
    source = payloads.source(toy_dir)
    pool = payloads.pool(source, seed=3, size=600, invalid_share=0.5)
    seen = {
        problem.problem
        for payload in pool
        if payload.expected_status == 422
        for _, found in checked(source, payload)
        for problem in found
    }
    text = " | ".join(sorted(seen))
    for rule in (
        "is required",
        "is not a model input",
        "must not be null",
        "must be a number",
        "must be between",
        "must be true or false",
        "must be a string",
        "must be one of",
        "must be at most 30 characters",
    ):
        assert rule in text, rule


def _key(schema: Schema, row: list[Value]) -> tuple[Any, ...]:
    """What perturbation never changes: categories, booleans, nulls and texts (case aside)."""
    key: list[Any] = []
    for field, value in zip(schema.fields, row, strict=True):
        if value is None or field.kind in ("categorical", "boolean"):
            key.append(value)
        elif field.kind == "text":
            assert isinstance(value, str)
            key.append(value.casefold())
        else:
            key.append("number")
    return tuple(key)


def _near(schema: Schema, row: list[Value], original: list[Value]) -> bool:
    for field, new, old in zip(schema.fields, row, original, strict=True):
        if field.kind not in ("numeric", "integer") or old is None:
            continue
        assert isinstance(new, int | float) and isinstance(old, int | float)
        slack = (JITTER_MAX + 1e-5) * abs(old) + (0.5 if field.kind == "integer" else 0.0)
        if abs(new - old) > slack:
            return False
    return True


def test_every_record_sent_is_one_of_the_bundles_records_perturbed(source: Source) -> None:
    schema = source.schema
    originals: dict[tuple[Any, ...], list[list[Value]]] = defaultdict(list)
    for record in source.records:
        row, problems = checked(source, Payload("", "", payloads.body([record]), 200))[0]
        assert not problems
        originals[_key(schema, row)].append(row)
    pool = payloads.pool(source, seed=11, size=300, invalid_share=0.0)
    changed = 0
    for payload in pool:
        for row, _ in checked(source, payload):
            candidates = originals[_key(schema, row)]
            assert any(_near(schema, row, c) for c in candidates), (payload.body, row)
            changed += row not in candidates
    assert changed > 0  # the records are perturbed, not replayed


def test_a_record_the_schema_rejects_is_never_sent(toy_dir: Path) -> None:
    source = payloads.source(toy_dir)
    assert len(source.records) == len(TOY_RECORDS) - 1
    pool = payloads.pool(source, seed=5, size=400, invalid_share=0.3)
    assert not [p.body for p in pool if b"never sent" in p.body.lower()]


def test_perturbed_numbers_stay_in_range_and_integers_whole() -> None:
    rng = random.Random(2)
    fields = {f.name: f for f in TOY.fields}
    sizes = set()
    for _ in range(500):
        for record in TOY_RECORDS[:4]:
            out = payloads.perturbed(record, TOY, rng)
            for name in ("size", "rooms", "age"):
                value, field = out[name], fields[name]
                if record[name] is None:
                    assert value is None
                    continue
                assert field.min is not None and field.max is not None
                assert field.min <= value <= field.max, (name, value)
                if field.kind == "integer":
                    assert isinstance(value, int) and not isinstance(value, bool)
            assert out["garden"] is record["garden"]
            assert out["notes"] == record["notes"] or (
                out["notes"].strip().casefold() == record["notes"].casefold()
            )
            sizes.add(out["size"])
    # the jitter moves values (about 2%) both ways
    assert min(s for s in sizes if s is not None and s > 3) < 4.2 < max(s for s in sizes if s)


def test_the_pool_is_a_function_of_its_seed(source: Source) -> None:
    first = payloads.pool(source, seed=4, size=200)
    assert payloads.pool(source, seed=4, size=200) == first
    assert payloads.pool(source, seed=5, size=200) != first


def test_a_batch_size_sets_every_predict_request(toy_dir: Path) -> None:
    source = payloads.source(toy_dir)
    mix = payloads.with_batch({"predict": payloads.DEFAULT_MIX["predict"]}, 32)
    pool = payloads.pool(source, seed=1, size=20, invalid_share=0.0, mix=mix)
    assert all(len(json.loads(p.body)["records"]) == 32 for p in pool)


def test_a_folder_without_a_usable_bundle_is_one_line(tmp_path: Path, toy_dir: Path) -> None:
    with pytest.raises(BundleError, match="no model bundle at"):
        payloads.source(tmp_path)
    with pytest.raises(ConfigError, match=f"--model {tmp_path}: ") as raised:
        BenchConfig(model_dir=str(tmp_path)).check()
    assert "\n" not in str(raised.value)
    rejected = tmp_path / "rejected"
    model = tmp_path / "model.joblib"
    model.write_bytes(b"never loaded")
    bundles.write(rejected, model, TOY, TOY_RECORDS[4:], {"name": "toy", "version": "0"})
    with pytest.raises(BundleError, match="holds no record that the bundle's schema accepts"):
        payloads.source(rejected)
    assert BenchConfig(model_dir=str(toy_dir)).check().model_dir == str(toy_dir)
