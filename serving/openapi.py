"""The public API's description of itself: an OpenAPI 3.1 document built from the model bundle,
and a self-contained HTML page rendered from that document.

Every public entry (the monolith, the gateway) serves the same bytes for the same bundle and
settings. Its request schema accepts exactly the JSON bodies the server accepts (a number field
takes any JSON number in its range, an integer one also `3.0`, as JSON Schema's `integer` does;
strings through the patterns of serving.patterns: trimmed, categories case-folded, text by its
length once trimmed). What no JSON Schema can say: the body limit in bytes (413, stated in the
document), and the JSON text itself (pipeline.document: UTF-8 only, nesting and digits bounded,
duplicate keys: the server keeps the last).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from pipeline.bundle import ModelBundle
from pipeline.document import MAX_DEPTH, MAX_DIGITS
from pipeline.errors import InvalidRecords, MalformedBody, RequestError
from pipeline.records import ErrorBody
from pipeline.schema import Field, Schema
from pipeline.stages import STAGE_NAMES
from serving import errors
from serving.api import ENDPOINTS, Endpoint
from serving.errors import HTTPError
from serving.patterns import category_pattern, text_pattern

DOCUMENT_PATH, DOCS_PATH = "/openapi.json", "/docs"
PATHS = (DOCUMENT_PATH, DOCS_PATH)
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REF = "#/components/schemas/{name}"
JSON, HTML = "application/json", "text/html"
_JSON_TYPES = {"numeric": "number", "integer": "integer"}


def field_schema(field: Field) -> dict[str, Any]:
    """The JSON Schema of one input: its type, bounds or pattern, and a description."""
    null = ", or null" if field.nullable else ""
    if field.kind in ("numeric", "integer"):
        noun = "a number" if field.kind == "numeric" else "a whole number"
        schema: dict[str, Any] = {"type": _JSON_TYPES[field.kind]}
        schema |= {"minimum": field.min, "maximum": field.max}
        said = f"{noun} from {field.min:g} to {field.max:g}"
    elif field.kind == "boolean":
        schema, said = {"type": "boolean"}, "true or false"
    elif field.kind == "text":
        limit = field.max_length or 0
        schema = {"type": "string", "pattern": text_pattern(limit)}
        said = f"text of at most {limit} characters, surrounding white space trimmed"
    else:
        schema = {"type": "string", "pattern": category_pattern(field.categories)}
        schema["examples"] = list(field.categories)
        said = "one of: " + ", ".join(field.categories) + " (any case, white space trimmed)"
    if field.nullable:
        schema["type"] = [schema["type"], "null"]
    return {"description": said + null, **schema}


def request_schemas(schema: Schema, max_records: int) -> dict[str, Any]:
    """The request body: one record, or {"records": [...]} with 1 to `max_records` of them."""
    record: dict[str, Any] = {
        "title": "Record",
        "description": "One model input: every field is required, no other is allowed.",
        "type": "object",
        "properties": {f.name: field_schema(f) for f in schema.fields},
        "required": list(schema.names),
        "additionalProperties": False,
    }
    batch = {"type": "array", "items": {"$ref": REF.format(name="Record")}}
    forms = [{"$ref": REF.format(name=name)} for name in ("Record", "Records")]
    if "records" in schema.names:  # ingest takes any body with a `records` key for a batch
        forms = forms[1:]
    return {
        "Record": record,
        "Records": {
            "title": "Records",
            "description": f"a batch of 1 to {max_records} records.",
            "type": "object",
            "properties": {"records": batch | {"minItems": 1, "maxItems": max_records}},
            "required": ["records"],
            "additionalProperties": False,
        },
        "Request": {"oneOf": forms},
    }


def prediction_schema(bundle: ModelBundle) -> dict[str, Any]:
    """One record's answer, as this bundle's task gives it."""
    classes, task = [str(c) for c in bundle.metadata.get("classes", [])], bundle.task
    label = {"type": "string"} | ({"enum": classes} if classes else {})
    value, probability = {"type": "number"}, {"type": "number", "minimum": 0, "maximum": 1}
    shapes = {"classifier": [{"label": label, "probability": probability}]}
    shapes["regressor"] = [{"value": value}]
    objects = [
        {"type": "object", "properties": p, "required": list(p), "additionalProperties": False}
        for p in shapes.get(task, [{"label": label}, {"value": value}])
    ]
    said = {"classifier": "`label`" + (f" (one of {', '.join(classes)})" if classes else "")}
    said["classifier"] += " and its `probability`"
    said["regressor"] = "`value`, a number"
    shape = said.get(task, "`label`, a string, or `value`, a number")
    head = {"title": "Prediction", "description": f"One record's answer from the {task}: {shape}."}
    return head | (objects[0] if len(objects) == 1 else {"oneOf": objects})


# Each error a public POST can answer: status, the errors behind it, when (a stage error: the
# gateway's only, naming the stage).
_ERRORS: tuple[tuple[int, tuple[type[HTTPError] | type[RequestError], ...], str], ...] = (
    (
        400,
        (MalformedBody,),
        "The body is not JSON in UTF-8 (the message names the byte, or the limit: arrays and "
        f"objects nested at most {MAX_DEPTH} deep, integers of at most {MAX_DIGITS} digits).",
    ),
    (413, (errors.PayloadTooLarge,), "The body is over {limit} bytes."),
    (
        415,
        (errors.UnsupportedMediaType,),
        "The content type is not application/json, or names a charset other than UTF-8.",
    ),
    (422, (InvalidRecords,), "Records break the input schema; `problems` names every bad field."),
    (502, (errors.StageFailed,), "failed with a server error."),
    (503, (errors.StageUnavailable, errors.CircuitOpen), "is down, or its circuit is open."),
    (504, (errors.StageTimeout,), "did not answer within the stage timeout."),
)


def error_responses(max_body_bytes: int) -> dict[str, Any]:
    """The error answers, by error name, each body narrowed to the codes it carries."""
    responses = {}
    for _, kinds, said in _ERRORS:
        narrowed: dict[str, Any] = {"properties": {"error": {"enum": [k.code for k in kinds]}}}
        if issubclass(kinds[0], errors.StageError):
            said = "Microservices' gateway only: the stage named by `stage` " + said
            narrowed["properties"]["stage"] = {"enum": list(STAGE_NAMES)}
            narrowed["required"] = ["stage"]
        body = {"allOf": [{"$ref": REF.format(name=ErrorBody.__name__)}, narrowed]}
        responses[kinds[0].__name__] = {
            "description": said.format(limit=max_body_bytes),
            "content": {JSON: {"schema": body}},
        }
    return responses


def _answer(description: str, name: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Server-Timing": {"$ref": "#/components/headers/ServerTiming"}},
        "content": {JSON: {"schema": {"$ref": REF.format(name=name)}}},
    }


def operation(endpoint: Endpoint) -> dict[str, Any]:
    """The POST operation of a public endpoint, with every answer either architecture gives."""
    name = endpoint.answer.__name__
    responses = {"200": _answer(endpoint.summary, name)}
    if any(s.needs_model for s in endpoint.stages):
        responses["203"] = _answer(
            "Microservices' gateway with its fallback on, when a model stage cannot answer: "
            'the class prior for every record, `"degraded": true`, a version ending in `+prior`.',
            name,
        )
    for status, kinds, _ in _ERRORS:
        responses[str(status)] = {"$ref": f"#/components/responses/{kinds[0].__name__}"}
    request = {"$ref": REF.format(name="Request")}
    return {
        "summary": endpoint.summary,
        "description": "Runs the stages " + ", ".join(s.name for s in endpoint.stages) + ".",
        "requestBody": {"required": True, "content": {JSON: {"schema": request}}},
        "responses": responses,
    }


def _get(summary: str, content_type: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {content_type: {"schema": schema}} if schema else {content_type: {}}
    return {
        "get": {
            "summary": summary,
            "responses": {"200": {"description": summary, "content": content}},
        }
    }


def document(bundle: ModelBundle, max_body_bytes: int) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the public API for this bundle and these limits."""
    answers = [e.answer for e in ENDPOINTS]
    _, schemas = msgspec.json.schema_components([*answers, ErrorBody], ref_template=REF)
    schemas["Prediction"] = prediction_schema(bundle)
    schemas |= request_schemas(bundle.schema, bundle.limits.max_records)
    name = str(bundle.metadata.get("name", "model"))
    paths: dict[str, Any] = {e.path: {"post": operation(e)} for e in ENDPOINTS}
    ready = {"type": "object", "properties": {"ready": {"type": "boolean"}}, "required": ["ready"]}
    readiness = _get(
        "Ready: the model is loaded (in the gateway: every stage is ready)", JSON, ready
    )
    readiness["get"]["responses"]["503"] = {
        "description": "Not ready yet.",
        "content": {JSON: {"schema": ready}},
    }
    paths |= {
        "/healthz": _get(
            "Alive", JSON, {"type": "object", "properties": {"alive": {"const": True}}}
        ),
        "/readyz": readiness,
        "/metrics": _get("Prometheus metrics", "text/plain"),
        DOCUMENT_PATH: _get("This document", JSON),
        DOCS_PATH: _get("This document as a page", HTML),
    }
    timing = "Each stage's time in ms; in the gateway also each hop's (`<stage>-hop`), and total."
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": {
            "title": f"{name} inference API",
            "version": bundle.version,
            "description": f"The archbench public API serving the model {name} {bundle.version}.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": error_responses(max_body_bytes),
            "headers": {"ServerTiming": {"description": timing, "schema": {"type": "string"}}},
        },
    }


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;"
    "border-bottom:1px solid #ddd;vertical-align:top}code{font-size:90%}"
)


def _text(markdown: str) -> str:
    """Escape text for HTML, its `code spans` as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(markdown))


def _table(head: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_text(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def docs_page(doc: dict[str, Any]) -> str:
    """A self-contained HTML page (no script, nothing fetched) of the endpoints and the fields."""
    info, components = doc["info"], doc["components"]
    schemas, errors_by_name = components["schemas"], components["responses"]
    operations = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    endpoints = [
        (m.upper(), p, op["summary"], " ".join(op["responses"])) for m, p, op in operations
    ]
    answers: dict[tuple[str, str], None] = {}  # of the POST routes, once each
    for op in (op for _, _, op in operations if "requestBody" in op):
        for status, answer in op["responses"].items():
            answer = errors_by_name.get(answer.get("$ref", "").rsplit("/", 1)[-1], answer)
            answers[status, answer["description"]] = None
    fields = []
    for name, prop in schemas["Record"]["properties"].items():
        kind = prop["type"] if isinstance(prop["type"], str) else " or ".join(prop["type"])
        fields.append((name, kind, prop["description"]))
    title = html.escape(f"{info['title']} {info['version']}")
    batch, prediction = schemas["Records"]["description"], schemas["Prediction"]["description"]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>{html.escape(info['description'])} The machine-readable form is "
        f'<a href="{DOCUMENT_PATH}">{DOCUMENT_PATH}</a> (OpenAPI {doc["openapi"]}).</p>'
        "<h2>Endpoints</h2>"
        + _table(("method", "path", "what", "answers"), endpoints)
        + "<h2>Answers</h2>"
        + _table(("status", "when"), sorted(answers))
        + f"<p>{_text(prediction)}</p><h2>A record</h2>"
        f"<p>{html.escape(schemas['Record']['description'])} POST one record, or "
        f"<code>{{&quot;records&quot;: [...]}}</code>: {html.escape(batch)}</p>"
        + _table(("field", "type", "valid values"), fields)
        + "</body></html>"
    )


class Pages:
    """The self-description of a public entry, built from its bundle on the first request (the
    bundle may load during start-up) and kept."""

    def __init__(self, bundle: Callable[[], ModelBundle], max_body_bytes: int) -> None:
        self._bundle, self._max_body_bytes = bundle, max_body_bytes
        self._pages: dict[str, tuple[bytes, str]] = {}

    def page(self, path: str) -> tuple[bytes, str]:
        """The body and media type of one of PATHS."""
        if not self._pages:
            doc = document(self._bundle(), self._max_body_bytes)
            self._pages[DOCUMENT_PATH] = (msgspec.json.encode(doc), JSON)
            self._pages[DOCS_PATH] = (docs_page(doc).encode(), HTML)
        return self._pages[path]
