"""The model weight and batch sweep: how much of each request's latency and CPU the architecture
takes (public HTTP, hops, (de)serialisation) rather than the stages' compute, from a light to a
heavy model and from single predictions to batches, and where the architectures cross over.

For every model variant (pipeline.train: light, medium, heavy; trained into models/<variant>/ on
first use), repetition and architecture, one stack is started on that model; then for every batch
size, one Locust user sends `predict` requests of that many records one at a time (closed loop
with a single user: no request ever waits for another, so the latency is service time without
queueing) for `sweep_s` seconds, with no invalid records. Raw data:
`raw/sweep/<model>/<arch>/rep<k>/start.json` and `.../batch<B>/` (latency.json, samples.json,
Locust's files).

summary.json key `sweep`, a list of medians over repetitions:

    [{"model": "light" | "medium" | "heavy", "batch": int, "arch": str,
      "p50_ms": float, "p99_ms": float, "mean_ms": float,
      "stage_compute_ms": float,     # sum of the stages' own Server-Timing entries
      "hop_ms": float,               # sum of the `<stage>-hop` entries (0 in the monolith)
      "cpu_ms_per_request": float, "cpu_ms_per_prediction": float,
      "arch_share_of_latency": float,  # 1 - stage_compute_ms / mean_ms
      "arch_share_of_cpu": float,      # 1 - stage_compute_ms / cpu_ms_per_request
      "throughput_rps": float, "idle_memory_bytes": int | None,
      "vs_monolith_p50": float | None, "vs_monolith_cpu": float | None,  # this arch / monolith
      "runs": int, "invalid_runs": int}, ...]

A stage's compute is its Server-Timing duration: wall time of single-threaded work with nothing
else running (one request at a time), hence also its CPU time; the shares leave out stage compute
and keep everything else, including the public HTTP request both architectures serve.

summary.json key `sweep_crossover`, per architecture other than the monolith:

    {"<arch>": {"tolerance": 0.1,
                "p50": {"model", "batch", "ratio"} | None,   # first point, in order of growing
                "cpu": {"model", "batch", "ratio"} | None,   # compute, within tolerance of the
                "closest_p50": {...}, "closest_cpu": {...}}}  # monolith; and the nearest point
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.analyse import cost
from bench.analyse.summary import job_summary, jobs, read
from bench.run.driver import Driver
from bench.run.job import Job
from pipeline import bundle as bundles
from pipeline.paths import variant_dir
from pipeline.stages import STAGE_NAMES
from pipeline.train import train
from serving.timing import HOP_SUFFIX

CROSSOVER_TOLERANCE = 0.10
FIGURES = (
    "p50_ms",
    "p99_ms",
    "mean_ms",
    "stage_compute_ms",
    "hop_ms",
    "cpu_ms_per_request",
    "cpu_ms_per_prediction",
    "arch_share_of_latency",
    "arch_share_of_cpu",
    "throughput_rps",
    "idle_memory_bytes",
)


def model_dir(variant: str) -> Path:
    """The variant's bundle, trained (deterministically) if it is not there yet, or is of an
    older bundle format."""
    directory = variant_dir(variant)
    if not bundles.current(directory):
        train(directory, variant)
    return directory


def options(batch: int, seconds: float, model: Path) -> dict[str, object]:
    """Locust options of one sweep point: one closed-loop user, predict only, valid records
    made from the variant's bundle."""
    return {
        "--model-dir": model,
        "--ramp-users": 1,
        "--ramp-spawn-rate": 1,
        "--duration": seconds,
        "--mix": "predict",
        "--batch-size": batch,
        "--invalid-share": 0,
    }


def figures(summary: dict[str, Any], batch: int) -> dict[str, Any] | None:
    """One run's figures from its summary (None if it answered nothing)."""
    measured = (summary.get("measured") or {}).get("predict")
    cpu = (summary.get("resources") or {}).get("cpu_ms_per_request")
    timings = (summary.get("stage_ms") or {}).get("predict")
    if not measured or not measured["ok"] or cpu is None or not timings:
        return None
    compute = sum(timings.get(name, 0.0) for name in STAGE_NAMES)
    mean = measured["service_ms"]["mean"]
    return {
        "p50_ms": measured["intended_ms"]["p50"],
        "p99_ms": measured["intended_ms"]["p99"],
        "mean_ms": mean,
        "stage_compute_ms": compute,
        "hop_ms": sum(v for k, v in timings.items() if k.endswith(HOP_SUFFIX)),
        "cpu_ms_per_request": cpu,
        "cpu_ms_per_prediction": cpu / batch,
        "arch_share_of_latency": max(0.0, 1 - compute / mean),
        "arch_share_of_cpu": max(0.0, 1 - compute / cpu),
        "throughput_rps": measured["throughput_rps"],
        "valid": summary["validity"]["valid"],
    }


def run(driver: Driver) -> None:
    """Every model × repetition × architecture: one stack, then every batch size on it."""
    config, folder = driver.config, driver.path
    for model in config.sweep_models:
        directory = model_dir(model)
        settings = {"model_dir": directory}  # over the run's model (Driver.settings)
        for rep in range(config.repeat):
            for arch in list(config.archs)[:: -1 if rep % 2 else 1]:
                base = folder / "raw" / "sweep" / model / arch / f"rep{rep}"
                driver.display.phase(f"starting {arch} on the {model} model", arch, "sweep", rep)
                name = f"{arch}-rep{rep}-sweep-{model}"
                with driver.stack(arch, name, base / "start.json", settings=settings) as stack:
                    for batch in config.sweep_batches:
                        point = {"model": model, "arch": arch, "rep": rep, "batch": batch}
                        job = Job(arch, "ramp", rep)
                        # the single user's ramp second, then the hold
                        seconds = 1 + config.sweep_s
                        extra = options(batch, config.sweep_s, directory)
                        out = base / f"batch{batch}"
                        driver.drive(stack, job, out, "sweep", point, extra, seconds)


def runs_of(folder: Path, slo_ms: float) -> list[dict[str, Any]]:
    """Every sweep point of the folder that answered, its figures from its raw files."""
    runs = []
    for out, job in jobs(folder, "sweep"):
        point = job["point"]
        found = figures(job_summary(out, slo_ms), point["batch"])
        if found is None:
            continue
        start = read(out.parent / "start.json")
        rest = cost.idle(start["idle"]) if len(start["idle"]) >= 2 else {}
        where = {
            "raw": str(out.relative_to(folder)),
            "idle_memory_bytes": rest.get("cgroup_memory_bytes"),
        }
        runs.append({**point, **where, **found})
    return runs


def planned_seconds(driver: Driver) -> float:
    """Roughly how long the sweep takes, for the progress bar (0 when not asked for)."""
    config = driver.config
    if not config.runs("sweep"):
        return 0.0
    per_stack = driver.start_seconds() + len(config.sweep_batches) * (1 + config.sweep_s + 6)
    return per_stack * len(config.sweep_models) * config.repeat * len(config.archs)


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `sweep` key: per model, batch and architecture, medians over repetitions."""
    out = []
    keys = dict.fromkeys((r["model"], r["batch"], r["arch"]) for r in runs)
    for model, batch, arch in keys:
        mine = [r for r in runs if (r["model"], r["batch"], r["arch"]) == (model, batch, arch)]
        entry: dict[str, Any] = {"model": model, "batch": batch, "arch": arch}
        for key in FIGURES:
            values = [r[key] for r in mine if r.get(key) is not None]
            entry[key] = statistics.median(values) if values else None
        entry["runs"] = len(mine)
        entry["invalid_runs"] = sum(1 for r in mine if not r["valid"])
        out.append(entry)
    for entry in out:
        base = next(
            (
                e
                for e in out
                if e["arch"] == "monolith"
                and (e["model"], e["batch"]) == (entry["model"], entry["batch"])
            ),
            None,
        )
        for figure, key in (
            ("p50_ms", "vs_monolith_p50"),
            ("cpu_ms_per_request", "vs_monolith_cpu"),
        ):
            ratio = None
            if base is not None and base[figure] and entry[figure] is not None:
                ratio = entry[figure] / base[figure]
            entry[key] = ratio
    return out


def crossover(
    entries: list[dict[str, Any]], tolerance: float = CROSSOVER_TOLERANCE
) -> dict[str, dict[str, Any]]:
    """Per non-monolith architecture: the first sweep point, in order of growing stage compute
    (the monolith's), where it is within `tolerance` of the monolith; and the closest point."""
    compute = {
        (e["model"], e["batch"]): e["stage_compute_ms"] or 0.0
        for e in entries
        if e["arch"] == "monolith"
    }
    out: dict[str, dict[str, Any]] = {}
    for arch in dict.fromkeys(e["arch"] for e in entries if e["arch"] != "monolith"):
        points = sorted(
            (e for e in entries if e["arch"] == arch and (e["model"], e["batch"]) in compute),
            key=lambda e: compute[(e["model"], e["batch"])],
        )
        found: dict[str, Any] = {"tolerance": tolerance}
        for name, key in (("p50", "vs_monolith_p50"), ("cpu", "vs_monolith_cpu")):
            rated = [e for e in points if e[key] is not None]
            within = [e for e in rated if e[key] <= 1 + tolerance]
            found[name] = _where(within[0], key) if within else None
            found[f"closest_{name}"] = (
                _where(min(rated, key=lambda e: e[key]), key) if rated else None
            )
        out[arch] = found
    return out


def _where(entry: dict[str, Any], key: str) -> dict[str, Any]:
    return {"model": entry["model"], "batch": entry["batch"], "ratio": entry[key]}
