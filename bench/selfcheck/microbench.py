"""In-process cost of each stage and of the whole pipeline, per request, on the stacks' CPU.

Run as `archbench microbench` or `python -m bench.selfcheck.microbench`. The process pins itself to
the CPU the stacks run on and, like every service, runs native thread pools with one thread; those
variables only take effect if set before numpy loads, so the process re-executes itself with them
when they are missing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
from rich.table import Table

from bench.report import console
from bench.selfcheck.conditions import cpu_list
from pipeline import bundle as bundles
from pipeline.bundle import ModelBundle
from pipeline.records import ValidBatch
from pipeline.stages import STAGES
from stack.budget import sut_cpus
from stack.topology import COMMON_ENV, Budget

BATCH_SIZES = (1, 32)
POOL_SIZE = 64  # distinct request bodies cycled through, so no single record is special
SEED = 20261126
PIPELINE = "pipeline"
# Part of `features`: turning validated rows into the model's input (a DataFrame when the model
# was fitted on one, else an array), before any fitted step runs.
FEATURES_INPUT = "features: input"
MIN_CPU_SHARE = 0.95
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Row:
    """One measured function at one batch size; durations in microseconds per call."""

    name: str
    batch: int
    calls: int
    mean_us: float
    p50_us: float
    p99_us: float
    # This process's CPU time over the wall time of the row: below 1, something else ran on
    # the CPU and the durations include its time.
    cpu_share: float

    @property
    def us_per_record(self) -> float:
        return self.mean_us / self.batch

    @property
    def records_per_s(self) -> float:
        return 1e6 / self.us_per_record

    @property
    def requests_per_s(self) -> float:
        return 1e6 / self.mean_us


def bodies(
    records: Sequence[Mapping[str, Any]], batch: int, count: int = POOL_SIZE, seed: int = SEED
) -> list[bytes]:
    """Request bodies of `batch` records sampled (with replacement) from the bundle's records."""
    rng = random.Random(seed)
    if batch == 1:
        return [_encode(r) for r in rng.choices(records, k=count)]
    return [_encode({"records": rng.choices(records, k=batch)}) for _ in range(count)]


def run_pipeline(model: ModelBundle, body: bytes) -> bytes:
    """The whole pipeline for one request body: every stage, then the response body encoded."""
    value: Any = body
    for stage in STAGES:
        value = stage.run(model, value)
    return _encode(value)


def _time(
    name: str, batch: int, call: Callable[[Any], object], inputs: list[Any], seconds: float
) -> Row:
    """Call `call` over the inputs in turn for about `seconds` after a short warm-up."""
    for value in inputs:
        call(value)
    durations: list[int] = []
    clock = time.perf_counter_ns
    wall_started, cpu_started = clock(), time.process_time_ns()
    deadline = wall_started + int(seconds * 1e9)
    n = len(inputs)
    i = 0
    while True:
        value = inputs[i % n]
        started = clock()
        call(value)
        ended = clock()
        durations.append(ended - started)
        i += 1
        if ended > deadline and i >= n:
            break
    cpu_share = (time.process_time_ns() - cpu_started) / (clock() - wall_started)
    durations.sort()
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    return Row(
        name,
        batch,
        len(durations),
        statistics.fmean(durations) / 1000,
        statistics.median(durations) / 1000,
        p99 / 1000,
        cpu_share,
    )


def _model_input(model: ModelBundle, batch: ValidBatch) -> object:
    return bundles.inputs(model.schema, batch.rows)


def measure(
    model: ModelBundle,
    records: Sequence[Mapping[str, Any]],
    seconds: float,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    stages: bool = True,
) -> list[Row]:
    """Time each stage alone (on the previous stage's real outputs), the features stage's input
    building alone, and the whole pipeline."""
    rows = []
    for batch in batch_sizes:
        inputs: list[Any] = bodies(records, batch)
        for stage in STAGES if stages else ():
            rows.append(_time(stage.name, batch, partial(stage.run, model), inputs, seconds))
            if stage.name == "features":
                call = partial(_model_input, model)
                rows.append(_time(FEATURES_INPUT, batch, call, inputs, seconds))
            inputs = [stage.run(model, v) for v in inputs]
        whole = partial(run_pipeline, model)
        rows.append(_time(PIPELINE, batch, whole, bodies(records, batch), seconds))
    return rows


def missing_threads(environ: Mapping[str, str]) -> dict[str, str]:
    """The one-thread native pool variables every service runs with that `environ` lacks."""
    return {k: v for k, v in COMMON_ENV.items() if environ.get(k) != v}


COLUMNS = ("stage", "batch", "calls", "mean µs", "p50 µs", "p99 µs", "µs/record", "own CPU",
           "throughput")  # fmt: skip


def table(rows: Sequence[Row], cpus: Sequence[int], seconds: float) -> Table:
    """The figures as a rich table; throughput is given for the whole pipeline."""
    title = (
        f"in-process cost per call on CPU {cpu_list(cpus)} "
        f"(one-thread native pools, ~{seconds:g} s per row)"
    )
    out = console.table(title, COLUMNS, left=("stage",), no_wrap=True)
    for row in rows:
        throughput = ""
        if row.name == PIPELINE:
            throughput = (
                f"{row.requests_per_s:,.0f} requests/s"
                if row.batch == 1
                else f"{row.records_per_s:,.0f} records/s"
            )
        out.add_row(
            row.name,
            str(row.batch),
            f"{row.calls:,}",
            f"{row.mean_us:,.1f}",
            f"{row.p50_us:,.1f}",
            f"{row.p99_us:,.1f}",
            f"{row.us_per_record:,.1f}",
            f"{row.cpu_share:.0%}",
            throughput,
            end_section=row.name == PIPELINE,
        )
    return out


def main(
    model_dir: Path,
    seconds: float,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    stages: bool = True,
    as_json: bool = False,
) -> None:
    """Measure and print the table (or, with `as_json`, the rows as JSON for `archbench perf`).

    The process entry: it pins itself to the stacks' CPU with one-thread native pools, as every
    service runs. The thread variables only work if set before numpy loads, so when any is
    missing the process re-executes itself (`python -m bench.selfcheck.microbench`) with them.
    """
    missing = missing_threads(os.environ)
    if missing:
        argv = ["--model-dir", str(model_dir), "--seconds", str(seconds)]
        argv += ["--batch-sizes", *map(str, batch_sizes)]
        argv += ([] if stages else ["--pipeline-only"]) + (["--json"] if as_json else [])
        argv = [sys.executable, "-m", "bench.selfcheck.microbench", *argv]
        os.execve(sys.executable, argv, {**os.environ, **missing})
    cpus = sut_cpus(Budget())
    os.sched_setaffinity(0, cpus)
    model = bundles.load(model_dir)
    rows = measure(model, bundles.records(model_dir), seconds, batch_sizes, stages)
    if as_json:
        rows_out = [{**asdict(r), "us_per_record": r.us_per_record} for r in rows]
        print(msgspec.json.encode(rows_out).decode())
        return
    out = console.stdout(120)
    out.print(table(rows, cpus, seconds))
    out.print(
        "pipeline = ingest → validate → features → score, then the response body encoded; "
        "each stage is timed alone on the previous stage's outputs; "
        f"bodies cycle through {POOL_SIZE} samples of the bundle's records "
        f"({model.metadata.get('name')} {model.version}, {model.task}); "
        f"'{FEATURES_INPUT}' is the part of features that builds the model's input "
        f"({'a pandas DataFrame' if model.schema.frame else 'a NumPy array'}); "
        "own CPU = this process's CPU time / wall time of the row.",
        highlight=False,
    )
    shared = [f"{r.name}@{r.batch}" for r in rows if r.cpu_share < MIN_CPU_SHARE]
    if shared:
        out.print(
            f"[red]warning: other work shared the CPU during {', '.join(shared)} "
            f"(own CPU below {MIN_CPU_SHARE:.0%}); those rows are skewed[/]"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.selfcheck.microbench")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--pipeline-only", action="store_true", help="skip the per-stage rows")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    main(args.model_dir, args.seconds, args.batch_sizes, not args.pipeline_only, args.json)
