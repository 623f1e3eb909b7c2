"""The model's input schema: derived from training data, checked against every record."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from pipeline.records import Problem


class Field(msgspec.Struct, frozen=True, omit_defaults=True):
    """One model input: a number within a range, or one of a set of categories."""

    name: str
    kind: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()


class Schema(msgspec.Struct, frozen=True):
    """The ordered inputs of a model; every field is required."""

    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def derive(
    columns: Mapping[str, Sequence[Any]], categorical: Sequence[str], margin: float = 0.5
) -> Schema:
    """Derive a schema from training columns.

    Numeric ranges are the observed range widened by `margin` times its span on each side (never
    below zero for a column that is never negative): wide enough for real inputs, narrow enough to
    catch unit mistakes such as grams given as kilograms.
    """
    fields = []
    for name, values in columns.items():
        if name in categorical:
            fields.append(Field(name, "categorical", categories=tuple(sorted(set(values)))))
            continue
        low, high = float(min(values)), float(max(values))
        span = high - low
        floor = low - margin * span
        if low >= 0:
            floor = max(0.0, floor)
        fields.append(
            Field(name, "numeric", min=round(floor, 6), max=round(high + margin * span, 6))
        )
    return Schema(tuple(fields))


def check_value(field: Field, value: Any) -> tuple[float | str | None, str | None]:
    """Return (the value in canonical form, None) or (None, what is wrong with it)."""
    if field.kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        number = float(value)
        assert field.min is not None and field.max is not None
        if not math.isfinite(number) or not field.min <= number <= field.max:
            return None, f"must be between {field.min:g} and {field.max:g}"
        return number, None
    if not isinstance(value, str):
        return None, "must be a string, one of: " + ", ".join(field.categories)
    for category in field.categories:
        if value.casefold() == category.casefold():
            return category, None
    return None, "must be one of: " + ", ".join(field.categories)


def check_record(
    schema: Schema, record: Any, prefix: str
) -> tuple[list[float | str], list[Problem]]:
    """Check one record; return its row in schema order and every problem found."""
    if not isinstance(record, dict):
        return [], [Problem(prefix or "body", "must be a JSON object")]
    dot = prefix + "." if prefix else ""
    row: list[float | str] = []
    problems: list[Problem] = []
    for field in schema.fields:
        if field.name not in record:
            problems.append(Problem(dot + field.name, "is required"))
            continue
        value, problem = check_value(field, record[field.name])
        if problem is not None:
            problems.append(Problem(dot + field.name, problem))
        else:
            assert value is not None
            row.append(value)
    known = set(schema.names)
    problems.extend(
        Problem(dot + name, "is not a model input") for name in record if name not in known
    )
    return row, problems
