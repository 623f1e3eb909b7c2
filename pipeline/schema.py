"""The model's input schema: derived from a sample of the model's input, checked against every
record.

A field is a number within a range (`numeric`, or `integer` for whole numbers), one of a set of
categories, a boolean, or a free-text string with a maximum length; any of them may be `nullable`
(JSON null) when the sample has missing values the model handles. Field names are the columns' own,
kept exactly (spaces, slashes and all). `frame` says the model was fitted on a DataFrame: the
features stage then gets one, with these names and `dtype`s, rather than an array.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from pipeline.records import Problem, Value

Kind = Literal["numeric", "integer", "categorical", "boolean", "text"]
KINDS: tuple[str, ...] = ("numeric", "integer", "categorical", "boolean", "text")
# A string column is categorical while it has at most this many distinct values, none longer than
# TEXT_LENGTH; beyond either it is free text.
MAX_CATEGORIES = 50
TEXT_LENGTH = 40
# Free text may be this many times longer than the longest value in the sample.
TEXT_LENGTH_MARGIN = 2


class Field(msgspec.Struct, frozen=True, omit_defaults=True):
    """One model input."""

    name: str
    kind: Kind
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()
    max_length: int | None = None
    nullable: bool = False
    # the column's pandas dtype in the sample (how a DataFrame input is rebuilt)
    dtype: str | None = None


class Schema(msgspec.Struct, frozen=True, omit_defaults=True):
    """The ordered inputs of a model; every field is required (a nullable one may be null)."""

    fields: tuple[Field, ...]
    frame: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def numeric_range(values: Sequence[float], margin: float) -> tuple[float, float]:
    """The observed range widened by `margin` times its span on each side (never below zero for a
    column that is never negative): wide enough for real inputs, narrow enough to catch unit
    mistakes such as grams given as kilograms."""
    low, high = float(min(values)), float(max(values))
    span = high - low
    floor = low - margin * span
    if low >= 0:
        floor = max(0.0, floor)
    return round(floor, 6), round(high + margin * span, 6)


def derive(
    columns: Mapping[str, Sequence[Any]], categorical: Sequence[str], margin: float = 0.5
) -> Schema:
    """Derive a schema of numeric and categorical fields from complete columns (no missing
    value); `categorical` names the categorical ones."""
    fields = []
    for name, values in columns.items():
        if name in categorical:
            fields.append(Field(name, "categorical", categories=tuple(sorted(set(values)))))
            continue
        low, high = numeric_range(values, margin)
        fields.append(Field(name, "numeric", min=low, max=high))
    return Schema(tuple(fields))


def check_value(field: Field, value: Any) -> tuple[Value, str | None]:
    """Return (the value in canonical form, None) or (None, what is wrong with it)."""
    if value is None:
        return (None, None) if field.nullable else (None, "must not be null")
    if field.kind in ("numeric", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        try:
            number = float(value)
        except OverflowError:  # a JSON integer beyond any float: out of every range
            number = math.inf
        assert field.min is not None and field.max is not None
        if not math.isfinite(number) or not field.min <= number <= field.max:
            return None, f"must be between {field.min:g} and {field.max:g}"
        if field.kind == "integer":
            if not number.is_integer():
                return None, "must be a whole number"
            return int(number), None
        return number, None
    if field.kind == "boolean":
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if field.kind == "text":
        if not isinstance(value, str):
            return None, "must be a string"
        assert field.max_length is not None
        if len(value) > field.max_length:
            return None, f"must be at most {field.max_length} characters"
        return value, None
    if not isinstance(value, str):
        return None, "must be a string, one of: " + ", ".join(field.categories)
    folded = value.casefold()  # once: a huge string is not folded once per category
    for category in field.categories:
        if folded == category.casefold():
            return category, None
    return None, "must be one of: " + ", ".join(field.categories)


def check_record(schema: Schema, record: Any, prefix: str) -> tuple[list[Value], list[Problem]]:
    """Check one record; return its row in schema order and every problem found."""
    if not isinstance(record, dict):
        return [], [Problem(prefix or "body", "must be a JSON object")]
    dot = prefix + "." if prefix else ""
    row: list[Value] = []
    problems: list[Problem] = []
    for field in schema.fields:
        if field.name not in record:
            problems.append(Problem(dot + field.name, "is required"))
            continue
        value, problem = check_value(field, record[field.name])
        if problem is not None:
            problems.append(Problem(dot + field.name, problem))
        else:
            row.append(value)
    known = set(schema.names)
    problems.extend(
        Problem(dot + shown_key(name), "is not a model input")
        for name in record
        if name not in known
    )
    return row, problems


# An unknown key is echoed back at most this long: the answer stays small whatever was sent.
SHOWN_KEY_LENGTH = 64


def shown_key(key: str) -> str:
    """An unknown key as a problem names it: an empty key as "", a long one cut short."""
    if not key:
        return '""'
    return key if len(key) <= SHOWN_KEY_LENGTH else key[:SHOWN_KEY_LENGTH] + "…"
