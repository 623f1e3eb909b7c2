"""Request payloads: the bundle's own input records, perturbed by field kind, with a share of
invalid ones the schema rejects and a weighted mix of endpoints; deterministic under a seed.

The status a payload expects is the one the pipeline's own `ingest` and `validate` stages (the
schema's `check_record`) give it, mapped as the services map it: a payload expecting 200 is one
the server accepts, one expecting 422 one it rejects, whatever the model's schema.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import bundle as bundles
from pipeline import stages
from pipeline.bundle import ModelBundle
from pipeline.errors import BundleError, RequestError
from pipeline.schema import Field, Schema
from serving.errors import to_response

# Endpoint mix by request name: (path, records per request, weight).
DEFAULT_MIX: Mapping[str, tuple[str, int, float]] = {
    "predict": ("/predict", 1, 0.6),
    "predict-batch": ("/predict", 8, 0.2),
    "validate": ("/validate", 1, 0.2),
}
DEFAULT_INVALID_SHARE = 0.05
# Numbers are jittered by a factor drawn around 1 with this spread, and never beyond JITTER_MAX
# either way, so that a perturbed record stays recognisably one of the bundle's.
JITTER, JITTER_MAX = 0.02, 0.10
# Draws of a damage before falling back to one that is always rejected (an unknown field).
DAMAGE_TRIES = 8


@dataclass(frozen=True)
class Payload:
    """One request: its name (per-endpoint figures), path, JSON body and the status it must get."""

    name: str
    path: str
    body: bytes
    expected_status: int


@dataclass(frozen=True)
class Source:
    """What payloads are made from: the bundle (its schema and limits) and its input records,
    only those the schema accepts."""

    bundle: ModelBundle
    records: tuple[dict[str, Any], ...]

    @property
    def schema(self) -> Schema:
        return self.bundle.schema


def inputs(model_dir: Path) -> list[dict[str, Any]]:
    """The bundle's input records (records.json), as a client sends them."""
    return bundles.records(model_dir)


def source(model_dir: Path) -> Source:
    """The bundle's schema and the records of its sample that the schema accepts; BundleError
    (one line) when the folder holds no bundle or no record the load could be made from."""
    bundle = bundles.load(model_dir, with_model=False)
    usable = tuple(r for r in inputs(model_dir) if status(bundle, [r]) == 200)
    if not usable:
        raise BundleError(
            f"{model_dir / bundles.RECORDS_FILE} holds no record that the bundle's schema "
            "accepts; the load is made from them"
        )
    return Source(bundle, usable)


def body(records: Sequence[Mapping[str, Any]]) -> bytes:
    """A request body: one record as itself, several (or one with a field named `records`,
    which would read as a batch) as `{"records": [...]}`."""
    document: Any = {"records": list(records)}
    if len(records) == 1 and "records" not in records[0]:
        document = records[0]
    return json.dumps(document).encode()


def status(bundle: ModelBundle, records: Sequence[Mapping[str, Any]]) -> int:
    """The status these records get as one request from the pipeline's ingest and validate
    stages: 200, or 422 when they break the schema (400 if they were not JSON)."""
    try:
        stages.validate(bundle, stages.ingest(bundle, body(records)))
    except RequestError as exc:
        return to_response(exc)[0]
    return 200


def _number(value: float, field: Field, rng: random.Random) -> float | int:
    factor = min(1 + JITTER_MAX, max(1 - JITTER_MAX, rng.gauss(1.0, JITTER)))
    assert field.min is not None and field.max is not None
    if field.kind == "integer":
        whole = round(value * factor)
        return min(math.floor(field.max), max(math.ceil(field.min), whole))
    # six significant digits, as a client would print them
    return min(field.max, max(field.min, float(f"{value * factor:.6g}")))


def _text(value: str, rng: random.Random) -> str:
    words = value.split(" ")
    i = rng.randrange(len(words))
    changed = words[i].swapcase()
    if rng.random() < 0.5 or changed == words[i] or len(changed) != len(words[i]):
        return value + " "  # ingest trims it again
    return " ".join([*words[:i], changed, *words[i + 1 :]])


def perturbed(record: Mapping[str, Any], schema: Schema, rng: random.Random) -> dict[str, Any]:
    """A plausible variant of a record the schema accepts, by field kind: numbers jittered by
    ~2% within the field's range (integers kept whole), categories in varied case or padded,
    one word of a text in the other case or a space after it; booleans and nulls unchanged."""
    fields = {f.name: f for f in schema.fields}
    out: dict[str, Any] = {}
    for key, value in record.items():
        field = fields.get(key)
        if field is None or value is None or isinstance(value, bool):
            out[key] = value
        elif field.kind in ("numeric", "integer") and isinstance(value, int | float):
            out[key] = _number(value, field, rng)
        elif field.kind == "categorical" and isinstance(value, str):
            out[key] = rng.choice([value, value.upper(), f" {value} "])
        elif field.kind == "text" and isinstance(value, str):
            out[key] = _text(value, rng)
        else:
            out[key] = value
    return out


def _out_of_range(field: Field) -> Any:
    """A value of the right type the field does not allow (None when it has none)."""
    if field.kind in ("numeric", "integer"):
        assert field.min is not None and field.max is not None
        step = max(1.0, field.max - field.min)
        for candidate in (field.max + step, field.min - step):
            if math.isfinite(candidate):  # JSON has no infinity
                return int(candidate) if field.kind == "integer" else candidate
        return None
    if field.kind == "categorical":
        unknown = "unknown-category"
        while unknown.casefold() in {c.casefold() for c in field.categories}:
            unknown += "-x"
        return unknown
    if field.kind == "text":
        assert field.max_length is not None
        return "x" * (field.max_length + 1)
    return None


def _mistyped(field: Field, value: Any) -> Any:
    """A value of a type the field never takes: a number as a string, a string as a number."""
    if field.kind in ("numeric", "integer"):
        return str(value if value is not None else 1)
    return 1


def _damages(schema: Schema, key: str) -> list[Callable[[dict[str, Any]], None]]:
    """The ways to break field `key` of a record in place."""
    field = next(f for f in schema.fields if f.name == key)

    def missing(record: dict[str, Any]) -> None:
        del record[key]

    def mistyped(record: dict[str, Any]) -> None:
        record[key] = _mistyped(field, record[key])

    def out_of_range(record: dict[str, Any]) -> None:
        record[key] = _out_of_range(field)

    def null(record: dict[str, Any]) -> None:
        record[key] = None

    ways: list[Callable[[dict[str, Any]], None]] = [missing, mistyped]
    if _out_of_range(field) is not None:
        ways.append(out_of_range)
    if not field.nullable:
        ways.append(null)
    return ways


def _unknown_field(schema: Schema, record: dict[str, Any], key: str) -> None:
    name = "unexpected_" + key
    while name in schema.names or name in record:
        name += "_"
    record[name] = 1


def broken(record: Mapping[str, Any], schema: Schema, rng: random.Random) -> dict[str, Any]:
    """A variant of a record that the schema rejects: a field missing, mistyped, out of range
    (an unknown category, an over-long text), null where null is not allowed, or an unknown
    field beside the others."""
    bundle = ModelBundle(schema, {})
    keys = [name for name in schema.names if name in record]
    for _ in range(DAMAGE_TRIES if keys else 0):
        key = rng.choice(keys)
        ways = _damages(schema, key)
        out = dict(record)
        choice = rng.randrange(len(ways) + 1)
        if choice == len(ways):
            _unknown_field(schema, out, key)
        else:
            ways[choice](out)
        if status(bundle, [out]) == 422:
            return out
    out = dict(record)
    _unknown_field(schema, out, keys[0] if keys else "field")
    return out


def with_batch(mix: Mapping[str, tuple[str, int, float]], records: int) -> dict[str, Any]:
    """The mix with `records` records in every `predict` request (the batch-size sweep)."""
    if records < 1:
        raise ValueError(f"batch size {records} must be 1 or more")
    out = dict(mix)
    if "predict" in out:
        path, _, weight = out["predict"]
        out["predict"] = (path, records, weight)
    return out


def pool(
    source: Source,
    seed: int,
    size: int = 4096,
    invalid_share: float = DEFAULT_INVALID_SHARE,
    mix: Mapping[str, tuple[str, int, float]] = DEFAULT_MIX,
) -> list[Payload]:
    """`size` payloads drawn from the mix, made from the source's records; a load generator
    cycles through them. A valid payload is checked to be accepted (else its records are sent
    unperturbed), an invalid one has one record the schema rejects."""
    if not 0.0 <= invalid_share <= 1.0:
        raise ValueError(f"invalid share {invalid_share} must be between 0 and 1")
    rng = random.Random(seed)
    schema = source.schema
    names = list(mix)
    weights = [mix[n][2] for n in names]
    payloads = []
    for _ in range(size):
        name = rng.choices(names, weights)[0]
        path, n_records, _ = mix[name]
        originals = rng.choices(source.records, k=n_records)
        records = [perturbed(r, schema, rng) for r in originals]
        invalid = rng.random() < invalid_share
        if invalid:
            i = rng.randrange(n_records)
            records[i] = broken(records[i], schema, rng)
        elif status(source.bundle, records) != 200:
            records = list(originals)
        payloads.append(Payload(name, path, body(records), 422 if invalid else 200))
    return payloads
