"""Request payloads: records sampled from the bundle's dataset, perturbed, with a share of invalid
ones and a weighted mix of endpoints; deterministic under a seed."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline import dataset

# Endpoint mix by request name: (path, records per request, weight).
DEFAULT_MIX: Mapping[str, tuple[str, int, float]] = {
    "predict": ("/predict", 1, 0.6),
    "predict-batch": ("/predict", 8, 0.2),
    "validate": ("/validate", 1, 0.2),
}
DEFAULT_INVALID_SHARE = 0.05


@dataclass(frozen=True)
class Payload:
    """One request: its name (per-endpoint figures), path, JSON body and the status it must get."""

    name: str
    path: str
    body: bytes
    expected_status: int


def inputs() -> list[dict[str, Any]]:
    """Dataset records without the target, as a client sends them."""
    return [{k: r[k] for k in dataset.INPUTS} for r in dataset.records()]


def perturbed(record: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """A plausible variant of a record: numbers jittered by ~2%, categories in varied case."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, float):
            out[key] = round(value * rng.gauss(1.0, 0.02), 2)
        else:
            out[key] = rng.choice([str(value), str(value).upper(), f" {value} "])
    return out


def broken(record: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """A record the schema must reject: a field missing, mistyped, out of range or unknown."""
    out = dict(record)
    key = rng.choice(sorted(out))
    damage = rng.randrange(4)
    if damage == 0:
        del out[key]
    elif damage == 1:
        out[key] = [out[key]]
    elif damage == 2:
        out[key] = -1e9 if isinstance(out[key], float) else "unknown-category"
    else:
        out["unexpected_" + key] = 1
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
    seed: int,
    size: int = 4096,
    invalid_share: float = DEFAULT_INVALID_SHARE,
    mix: Mapping[str, tuple[str, int, float]] = DEFAULT_MIX,
) -> list[Payload]:
    """`size` payloads drawn from the mix; a load generator cycles through them."""
    if not 0.0 <= invalid_share <= 1.0:
        raise ValueError(f"invalid share {invalid_share} must be between 0 and 1")
    rng = random.Random(seed)
    source = inputs()
    names = list(mix)
    weights = [mix[n][2] for n in names]
    payloads = []
    for _ in range(size):
        name = rng.choices(names, weights)[0]
        path, n_records, _ = mix[name]
        records = [perturbed(r, rng) for r in rng.choices(source, k=n_records)]
        invalid = rng.random() < invalid_share
        if invalid:
            i = rng.randrange(n_records)
            records[i] = broken(records[i], rng)
        document: Any = records[0] if n_records == 1 else {"records": records}
        body = json.dumps(document).encode()
        payloads.append(Payload(name, path, body, 422 if invalid else 200))
    return payloads
