"""The API describes itself: both architectures serve one OpenAPI 3.1 document, and its request
schema accepts what the server accepts and rejects what it rejects."""

from __future__ import annotations

import html
import itertools
import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from pipeline import bundle as bundles
from pipeline import stages
from pipeline.bundle import Limits, ModelBundle
from pipeline.errors import InvalidRecords
from pipeline.schema import Field, Schema
from serving import openapi, patterns
from stack.runner import Stack
from tests.bundles import SPECS, Made, made
from tests.conftest import request

Document = dict[str, Any]
SAMPLED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def described(model_dir: Path) -> ModelBundle:
    return bundles.load(model_dir, with_model=False)


@pytest.fixture(scope="module")
def document(monolith: Stack) -> Document:
    answer = request(monolith.url, openapi.DOCUMENT_PATH, method="GET")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    parsed: Document = json.loads(answer.body)
    return parsed


def standalone(document: Document, schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one schema of the document, its `#/components/...` references resolving
    within it."""
    root = {"$schema": document["jsonSchemaDialect"], **schema}
    return Draft202012Validator({**root, "components": document["components"]})


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def refs(node: Any) -> list[str]:
    """Every `$ref` in a document."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def media_schemas(document: Document) -> list[dict[str, Any]]:
    """The schema of every request and response body the document describes."""
    places = [op for item in document["paths"].values() for op in item.values()]
    bodies = [op["requestBody"] for op in places if "requestBody" in op]
    bodies += [r for op in places for r in op["responses"].values()]
    bodies += list(document["components"]["responses"].values())
    return [m["schema"] for b in bodies for m in b.get("content", {}).values() if "schema" in m]


def test_both_architectures_serve_one_valid_openapi_document(
    document: Document, monolith: Stack, micro: Stack, micro_flask: Stack, described: ModelBundle
) -> None:
    stacks = (monolith, micro, micro_flask)
    served = [request(s.url, openapi.DOCUMENT_PATH, method="GET") for s in stacks]
    assert [a.status for a in served] == [200, 200, 200]
    assert served[0].body == served[1].body == served[2].body
    assert json.loads(served[0].body) == document
    assert document["openapi"] == "3.1.0"
    assert document["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["info"]["version"] == described.version
    assert described.metadata["name"] in document["info"]["title"]
    for schema in [*document["components"]["schemas"].values(), *media_schemas(document)]:
        Draft202012Validator.check_schema(schema)
    for ref in refs(document):  # every reference points into the document
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    for path in ("/predict", "/validate"):
        operation = document["paths"][path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == component("Request")
        statuses = {"200", "400", "413", "415", "422", "502", "503", "504"}
        assert statuses <= set(operation["responses"]) and all(
            "description" in r or "$ref" in r for r in operation["responses"].values()
        )
    assert "203" in document["paths"]["/predict"]["post"]["responses"]
    record = document["components"]["schemas"]["Record"]
    assert list(record["properties"]) == list(described.schema.names) == record["required"]
    assert record["additionalProperties"] is False
    records = document["components"]["schemas"]["Records"]["properties"]["records"]
    assert (records["minItems"], records["maxItems"]) == (1, described.limits.max_records)


def test_docs_page_lists_endpoints_and_fields(
    document: Document, monolith: Stack, micro: Stack, micro_flask: Stack, described: ModelBundle
) -> None:
    pages = [
        request(s.url, openapi.DOCS_PATH, method="GET") for s in (monolith, micro, micro_flask)
    ]
    assert [a.status for a in pages] == [200, 200, 200]
    assert all(a.headers["content-type"] == "text/html; charset=utf-8" for a in pages)
    assert pages[0].body == pages[1].body == pages[2].body
    page = pages[0].body.decode()
    for text in ("/predict", "/validate", "/openapi.json", *described.schema.names):
        assert f"<td>{html.escape(text)}</td>" in page, text
    for field in document["components"]["schemas"]["Record"]["properties"].values():
        assert html.escape(field["description"]) in page, field
    # self-contained: nothing to fetch, nothing to run
    assert not re.search(r"<script|<link|src=|url\(", page)


def test_every_body_the_schema_generates_is_accepted(document: Document, monolith: Stack) -> None:
    answers = standalone(document, component("Predictions"))
    generated = from_schema({**component("Request"), "components": document["components"]})

    @SAMPLED
    @given(generated)
    def accepted(body: Any) -> None:
        answer = request(monolith.url, "/predict", json.dumps(body).encode())
        assert answer.status == 200, (body, answer.body)
        predictions = json.loads(answer.body)
        answers.validate(predictions)
        assert len(predictions["predictions"]) == len(body.get("records", [body]))

    accepted()


def damaged(described: ModelBundle, record: dict[str, Any]) -> list[Any]:
    """Bodies the server must reject with 422: one damage each, to a record or to the batch."""
    bodies: list[Any] = [{**record, "wing_span_mm": 3}]
    for field in described.schema.fields:
        bodies.append({k: v for k, v in record.items() if k != field.name})
        if not field.nullable:
            bodies.append({**record, field.name: None})
        if field.kind in ("numeric", "integer"):
            assert field.min is not None and field.max is not None
            wrong: list[Any] = ["12", True, [1], field.max + 1, field.min - 1, 1e308]
            wrong += [field.min + 0.5] if field.kind == "integer" else []
        elif field.kind == "categorical":
            wrong = [3, False, field.categories[0] + "x", "x" + field.categories[0], ""]
        elif field.kind == "boolean":
            wrong = [3, "yes", "true", 0]
        else:
            wrong = [3, {"text": "x"}, " " + "x" * ((field.max_length or 0) + 1) + " "]
        bodies += [{**record, field.name: value} for value in wrong]
    limit = described.limits.max_records
    bodies += [
        {"records": []},
        {"records": [record] * (limit + 1)},
        {"records": record},
        {"records": [record, 3]},
        {"records": [record], "debug": True},
        [record],
        "record",
        None,
    ]
    return bodies


def test_what_the_server_rejects_the_schema_rejects(
    document: Document, monolith: Stack, described: ModelBundle, records: list[dict[str, Any]]
) -> None:
    validator = standalone(document, component("Request"))
    invalid = document["components"]["responses"]["InvalidRecords"]
    error = standalone(document, invalid["content"]["application/json"]["schema"])
    bodies = damaged(described, records[0])
    assert len(bodies) > 40
    for body in bodies:
        answer = request(monolith.url, "/validate", json.dumps(body).encode())
        assert answer.status == 422, (body, answer.body)
        error.validate(json.loads(answer.body))
        assert not validator.is_valid(body), body


def test_what_the_server_accepts_the_schema_accepts(
    document: Document, monolith: Stack, records: list[dict[str, Any]]
) -> None:
    validator = standalone(document, component("Request"))
    record = {**records[0], "island": "Biscoe", "sex": "male"}
    bodies = [
        *records[:20],
        {"records": records[:50]},
        # categories in any case, with any white space `str.strip` trims, and Unicode case folds
        {**record, "island": " BISCOE\t", "sex": "\u3000Male\u0085"},
        {**record, "island": "bi\u017fcoe", "sex": "\x1cmale\u2028"},
        {**record, "bill_length_mm": 18.35, "bill_depth_mm": 25.7, "flipper_length_mm": 210.0},
    ]
    for body in bodies:
        answer = request(monolith.url, "/predict", json.dumps(body).encode())
        assert answer.status == 200, (body, answer.body)
        assert validator.is_valid(body), body


# Characters that fold to each target's letters, or almost do (dotless i, dotted capital I).
FOLDS = {"kiss": "kK\u212aiI\u0131\u0130sS\u017f\u00df\u1e9e", "ffi": "fFiI\ufb00\ufb01\ufb03"}
FOLDS |= {"sst": "sS\u017f\u00df\u1e9etT\ufb05\ufb06", "ss": "sS\u017f\u00df\u1e9e"}


# Every kind of field, nullable or not, in one schema (`records` among the names: a body with that
# key is always a batch).
KINDS = Schema(
    (
        Field("mass", "numeric", min=-2.5, max=1e6, nullable=True),
        Field("count", "integer", min=0, max=12),
        Field("flag", "boolean"),
        Field("maybe", "boolean", nullable=True),
        Field("note", "text", max_length=6, nullable=True),
        Field("street", "categorical", categories=("Stra\u00dfe", "\ufb01eld", "A-1 [x]")),
    )
)
GOOD_KINDS: dict[str, Any] = {"mass": None, "count": 3.0, "flag": True, "maybe": None}
GOOD_KINDS |= {"note": "  six ch  ", "street": "STRASSE"}


def accepted_in_process(described: ModelBundle, body: Any) -> bool:
    """Whether the stages the server runs first (ingest, validate) accept a body."""
    try:
        stages.validate(described, stages.ingest(described, json.dumps(body).encode()))
    except InvalidRecords:
        return False
    return True


@pytest.mark.parametrize("named_records", [False, True])
def test_every_kind_of_field_is_described_exactly(named_records: bool) -> None:
    fields = KINDS.fields + ((Field("records", "text", max_length=3),) if named_records else ())
    described = ModelBundle(Schema(fields), {"name": "kinds", "version": "0"}, limits=Limits(3))
    document = openapi.document(described, 1 << 20)
    validator = standalone(document, component("Request"))
    record = GOOD_KINDS | ({"records": "abc"} if named_records else {})
    assert accepted_in_process(described, record) is not named_records
    for body in damaged(described, record):
        assert not accepted_in_process(described, body) and not validator.is_valid(body), body

    @SAMPLED
    @given(from_schema({**component("Request"), "components": document["components"]}))
    def accepted(body: Any) -> None:
        assert accepted_in_process(described, body), body

    accepted()


@pytest.fixture(scope="module")
def made_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    return made(tmp_path_factory)


@pytest.mark.parametrize("name", list(SPECS))
def test_each_real_bundle_is_described_exactly(name: str, made_bundles: dict[str, Made]) -> None:
    """Every kind of bundle `archbench bundle` makes (a regressor, named columns, text, booleans,
    missing values): what its schema generates, the stages take and answer as described; what
    they reject, the schema rejects."""
    directory = made_bundles[name].directory
    model = bundles.load(directory)
    document = openapi.document(model, 1 << 20)
    validator = standalone(document, component("Request"))
    for body in damaged(model, bundles.records(directory)[0]):
        assert not accepted_in_process(model, body) and not validator.is_valid(body), body
    answers = standalone(document, component("Predictions"))

    @settings(SAMPLED, max_examples=50)
    @given(from_schema({**component("Request"), "components": document["components"]}))
    def answered(body: Any) -> None:
        value: Any = json.dumps(body).encode()
        for stage in stages.STAGES:
            value = stage.run(model, value)
        answers.validate(msgspec.to_builtins(value))

    answered()


@pytest.mark.parametrize("target", sorted(FOLDS))
def test_category_patterns_match_exactly_the_case_folds(target: str) -> None:
    pattern = re.compile(patterns.category_pattern([target]))
    cores = [
        "".join(chars)
        for n in range(len(target) + 1)
        for chars in itertools.product(FOLDS[target], repeat=n)
    ]
    accepted = 0
    for core in cores:
        # white space `str.strip` trims, and U+FEFF, which it keeps (ECMA 262's \\s has it)
        for value in (core, " " + core + "\x85", "\u3000\x1c" + core, "\ufeff" + core):
            matched = pattern.search(value) is not None
            assert matched == (value.strip().casefold() == target), repr(value)
            accepted += matched
    assert accepted >= 3 * 2 ** len(target)  # at least each mix of cases, trimmed or not


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(st.sampled_from(" \t\n\x1c\x85\u3000\ufeffab"), max_size=8))
def test_text_patterns_bound_the_trimmed_length(value: str) -> None:
    for limit in range(5):
        matched = re.search(patterns.text_pattern(limit), value) is not None
        assert matched == (len(value.strip()) <= limit), (limit, value)


def test_runaway_fold_patterns_stay_small_and_never_too_loose() -> None:
    pattern = patterns.category_pattern(["s" * 40])
    assert len(pattern) < patterns.MAX_PATTERN
    assert re.search(pattern, "S" * 40) and not re.search(pattern, "s" * 39)
