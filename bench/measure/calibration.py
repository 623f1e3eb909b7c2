"""The machine's speed right now: the in-process pipeline's throughput on the system-under-test
CPU, measured beside each capacity search so that a capacity can be read as a multiple of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stack.topology import COMMON_ENV

# bench.selfcheck.microbench's row for the whole pipeline (run as a module: no import upwards).
PIPELINE_ROW = "pipeline"
MICROBENCH = "bench.selfcheck.microbench"


def pipeline_argv(model_dir: Path, cpus: Sequence[int], seconds: float) -> list[str]:
    """The microbenchmark command timing the whole pipeline at batch 1 on `cpus`."""
    return [
        *("taskset", "-c", ",".join(map(str, cpus)), sys.executable, "-m", MICROBENCH),
        *("--model-dir", str(model_dir), "--seconds", str(seconds)),
        *("--batch-sizes", "1", "--pipeline-only", "--json"),
    ]


def pipeline_us(argv: list[str], timeout_s: float) -> float:
    """Run the microbenchmark command: the pipeline's mean microseconds per request."""
    done = subprocess.run(
        argv,
        env={**os.environ, **COMMON_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout_s,
    )
    row = next(r for r in json.loads(done.stdout) if r["name"] == PIPELINE_ROW)
    return float(row["mean_us"])


def measure(model_dir: Path, cpus: Sequence[int], seconds: float) -> dict[str, Any]:
    """Run the pipeline at batch 1 in a process pinned to `cpus` for about `seconds`: its
    requests per second and mean microseconds, or the error that kept it from running."""
    started = time.time()
    try:
        mean_us = pipeline_us(pipeline_argv(model_dir, cpus, seconds), 60 + 2 * seconds)
    except (subprocess.SubprocessError, StopIteration, ValueError) as exc:
        return {"pipeline_rps": None, "error": str(exc)[-500:], "started_unix": started}
    return {
        "pipeline_rps": 1e6 / mean_us,
        "mean_us": mean_us,
        "seconds": seconds,
        "cpus": list(cpus),
        "started_unix": started,
    }


def around(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """One calibration for a search from the measurements before and after it: the mean of
    their throughputs (the one that ran, if the other failed), both kept."""
    known = [m["pipeline_rps"] for m in (before, after) if m.get("pipeline_rps")]
    return {
        "pipeline_rps": sum(known) / len(known) if known else None,
        "before": before,
        "after": after,
        "started_unix": before.get("started_unix"),
    }
