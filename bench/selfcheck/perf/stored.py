"""`archbench perf`'s figures kept as `perf.json`: in a bench run's folder (`--into RUN_DIR`),
where that run's report and verdict read the price of secured hops, or in a folder of its own."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.selfcheck.perf.result import HOPS, PerfResult, secured_price, tracing_price
from bench.store.folder import ResultsError, RunFolder

PERF_FILE = "perf.json"


def as_dict(result: PerfResult) -> dict[str, Any]:
    """What perf.json holds: the low-load figures per stack, the price of secured hops and of
    tracing."""
    price = secured_price(result)
    return {
        "config": asdict(result.config),
        "hops": HOPS,
        "low": {name: [asdict(s) for s in samples] for name, samples in result.low.items()},
        "foreign": result.foreign,
        "secured_price": None if price is None else {"p50_ms": price[0], "cpu_ms": price[1]},
        # µs: "monolith p50", "micro CPU", "per hop p50", "per hop CPU", ... (result.py)
        "tracing_price": tracing_price(result),
    }


def save(result: PerfResult, into: Path | None, root: Path) -> Path:
    """Write perf.json into the run folder `into`, or into a new `root/<stamp>-perf/`."""
    if into is not None and not (into / "meta.json").is_file():
        raise ResultsError(f"--into {into}: not a run folder (it has no meta.json)")
    folder = RunFolder(into.resolve()) if into is not None else RunFolder.create("perf", root)
    return folder.write_json(PERF_FILE, as_dict(result))
