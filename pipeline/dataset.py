"""The demo dataset: Palmer penguins, read from the CSV the `palmerpenguins` package ships."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Any

NAME = "palmerpenguins/penguins.csv"
TARGET = "species"
NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
CATEGORICAL = ("island", "sex")
INPUTS = ("island", *NUMERIC, "sex")


def records() -> list[dict[str, Any]]:
    """Complete rows (no missing value) as records with typed values, target included."""
    text = resources.files("palmerpenguins").joinpath("data/penguins.csv").read_text()
    rows = []
    for raw in csv.DictReader(text.splitlines()):
        if any(raw[name] in ("", "NA") for name in (*INPUTS, TARGET)):
            continue
        row: dict[str, Any] = {name: raw[name] for name in (*CATEGORICAL, TARGET)}
        row.update({name: float(raw[name]) for name in NUMERIC})
        rows.append(row)
    return rows
