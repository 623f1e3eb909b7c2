"""The bridge's hop tax from its raw record (raw/hops/bridge.json, bench.selfcheck.bridge): a pure
function of the per-round samples of the floor hop on loopback and over Docker's bridge.

The entry this writes into summary.json["bridge"]:

    engine, rounds, requests        what was measured (Engine version; rounds of sequential calls)
    loopback, bridge                per side: p50_ms, p99_ms, cpu_ms (client and server CPU per
                                    call), each [median, low, high] over rounds (95% bootstrap)
    tax_p50_ms, tax_p99_ms, tax_cpu_ms
                                    bridge minus loopback: the median of per-round differences
                                    (both sides from the same round), [median, low, high]
    ratio_p50                       bridge over loopback p50, median of per-round ratios
    hops_per_prediction             the gateway's hops of one /predict
    per_prediction_p50_ms           tax_p50_ms × hops_per_prediction: what the bridge adds to one
                                    prediction of the micro stack at low load
    source                          where the loopback figure comes from, in words
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.analyse.interval import median_interval, ratios
from serving.api import ENDPOINTS

# In a Docker run's folder; written by bench.selfcheck.bridge.
RAW_FILE = "raw/hops/bridge.json"
SIDES = ("loopback", "bridge")
PREDICT_HOPS = len(next(e for e in ENDPOINTS if e.path == "/predict").stages)
SOURCE = (
    "the same floor server in its container, called on that container's own loopback, in the "
    "same rounds as the bridge (alternating order)"
)
FIGURES = ("p50_ms", "p99_ms", "cpu_ms_per_request")


def _interval(values: Sequence[float | None]) -> list[float] | None:
    found = median_interval([v for v in values if v is not None])
    return None if found is None else list(found)


def _column(samples: Sequence[dict[str, Any]], name: str) -> list[float | None]:
    return [s.get(name) for s in samples]


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """summary.json["bridge"] from the raw record (keys in the module docstring)."""
    loopback, bridge = raw["samples"]["loopback"], raw["samples"]["bridge"]
    out: dict[str, Any] = {
        "engine": raw.get("engine"),
        "rounds": raw.get("rounds"),
        "requests": raw.get("requests"),
        "hops_per_prediction": PREDICT_HOPS,
        "source": SOURCE,
    }
    for side, samples in (("loopback", loopback), ("bridge", bridge)):
        out[side] = {
            name.removesuffix("_per_request"): _interval(_column(samples, name)) for name in FIGURES
        }
    for name in FIGURES:
        pairs = [
            b - a
            for a, b in zip(_column(loopback, name), _column(bridge, name), strict=False)
            if a is not None and b is not None
        ]
        out[f"tax_{name.removesuffix('_per_request')}"] = _interval(pairs)
    p50s = list(zip(_column(loopback, "p50_ms"), _column(bridge, "p50_ms"), strict=False))
    kept = [(a, b) for a, b in p50s if a is not None and b is not None]
    out["ratio_p50"] = _interval(ratios([b for _, b in kept], [a for a, _ in kept]))
    tax = out["tax_p50_ms"]
    out["per_prediction_p50_ms"] = None if tax is None else [v * PREDICT_HOPS for v in tax]
    return out
