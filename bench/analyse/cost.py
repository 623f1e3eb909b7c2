"""What each architecture costs: idle footprint, start-to-ready time, CPU- and GB-seconds per
million predictions under the steady scenario, and their price from a price table.

Everything is derived from raw files of the run folder, so each figure can be recomputed:

- `raw/start/<arch>/rep<N>-<phase>.json`, one per stack start (written by the harness):
  `{"spawned_unix": {service: t}, "ready_unix": {service: t}, "idle": [sample rows]}`; the idle
  rows (bench.measure.resources format) are taken after a short settle, before any load, at the
  first start of each kind of stack in a run (later starts of the same stack record none);
- `raw/steady/<arch>/rep<N>/latency.json` and `samples.json`.

summary.json key `cost`:

    {"<arch>": {
        "idle": {"services": {"<service>": {"rss_bytes": int, "pss_bytes": int,
                                            "cpu_percent": float}},
                 "total_rss_bytes": int, "total_pss_bytes": int, "total_cpu_percent": float,
                 "cgroup_memory_bytes": int | None, "starts": int},
        "ready_s": {"services": {"<service>": float}, "total_s": float, "starts": int},
        "cpu_s_per_million": float, "gb_s_per_million": float, "usd_per_million": float,
        "reserved": {"cpu_s_per_million": float, "gb_s_per_million": float,
                     "usd_per_million": float},
        "per_million_requests": {"cpu_s": float, "gb_s": float, "usd": float},
        "predictions_per_request": float,
        "spread": {"<figure above or reserved_usd_per_million>": {"median", "min", "max", "n"}},
        "runs": {"steady/<arch>/rep<N>": {figures of that run, "valid": bool}},
        "invalid_runs": int},
     "prices": {"vcpu_hour_usd", "gb_hour_usd", "source", "file"}}

Definitions. Idle and ready figures are medians over the stack starts of the run that sampled
them (ready: every phase and repetition; idle: the first start of each kind of stack).
`cpu_percent` is the CPU time a process used at rest over the idle window (100 = one core; the
kernel counts it in 10 ms ticks, so over a 2 s window in steps of 0.5);
`total_cpu_percent` is the stack cgroup's, counted in nanoseconds (the processes' sum without a
cgroup). Memory is RSS (and PSS: shared pages split among the processes mapping them) averaged
over the window. `ready_s` of a service runs from its spawn to its first 200 on /readyz (the
gateway's needs every stage ready); `total_s` from the first spawn to the last ready.

Per million predictions under steady load ("used", the headline): a prediction is one record
answered with a label (a request of `predict-batch` makes 8; `validate` requests and rejected
records make none, but their cost counts: it is the whole mix's cost over the predictions it
made). CPU-seconds are the stack cgroup's CPU time in the measured window; GB-seconds are the
memory the stack occupies (the cgroup's memory usage, the figure its limit applies to, averaged
over the window; PSS summed over the processes where there is no cgroup) times the window. GB is
2^30 bytes. `per_million_requests` gives the same per request of the mix, as `archbench plan`
prices requests. Both are at the steady rate: at a lower rate the same memory is held for fewer
requests. "reserved" prices the budget the stack was given (its CPUs and memory limit for the
window) instead: the same for both architectures at the same rate by construction, it is what a
platform billing reservations charges. Dollars: CPU-s / 3600 x vCPU-hour + GB-s / 3600 x GB-hour.
"""

from __future__ import annotations

import json
import os
import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analyse import runs as analysis
from bench.config import DEFAULT_PRICES, ConfigError
from bench.load import payloads
from bench.measure import resources
from stack.topology import Budget

GiB = 1 << 30
MILLION = 1e6
PRICE_KEYS = ("usd", "source", "as_of", "basis")


class PriceError(ConfigError):
    """The price file is missing, not TOML, or lacks a valid key; the message names it."""


@dataclass(frozen=True)
class Prices:
    """USD per vCPU-hour and per GB-hour, with where they come from."""

    vcpu_hour_usd: float
    gb_hour_usd: float
    source: str
    file: str

    def usd(self, cpu_s: float, gb_s: float) -> float:
        """The price of CPU-seconds plus GB-seconds."""
        return cpu_s / 3600 * self.vcpu_hour_usd + gb_s / 3600 * self.gb_hour_usd

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def prices_path(flag: str | Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The price file to use: the --prices flag, else ARCHBENCH_PRICES, else the shipped one."""
    chosen = flag or environ.get("ARCHBENCH_PRICES")
    return Path(chosen) if chosen else DEFAULT_PRICES


def load_prices(path: Path) -> Prices:
    """Read a price file; PriceError names the file and the missing or invalid key."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise PriceError(f"prices file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceError(f"prices file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"prices file {path} is not valid TOML: {exc}") from None
    found: dict[str, dict[str, Any]] = {}
    for table in ("vcpu_hour", "gb_hour"):
        entry = data.get(table)
        if not isinstance(entry, dict):
            raise PriceError(f"prices file {path}: missing table [{table}]")
        for key in PRICE_KEYS:
            if key not in entry:
                raise PriceError(f"prices file {path}: missing key '{table}.{key}'")
        usd = entry["usd"]
        if isinstance(usd, bool) or not isinstance(usd, int | float) or usd <= 0:
            raise PriceError(
                f"prices file {path}: '{table}.usd' must be a positive number, not {usd!r}"
            )
        for key in PRICE_KEYS[1:]:
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise PriceError(f"prices file {path}: '{table}.{key}' must be a non-empty text")
        found[table] = entry
    cpu, memory = found["vcpu_hour"], found["gb_hour"]
    source = "; ".join(f"{e['basis']} ({e['source']}, {e['as_of']})" for e in (cpu, memory))
    return Prices(float(cpu["usd"]), float(memory["usd"]), source, str(path))


def idle(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Footprint at rest from idle sample rows: per service and total memory and CPU."""
    if len(rows) < 2:
        raise ValueError("the idle window needs at least two samples")
    first, last = rows[0], rows[-1]
    span_s = last["t_unix"] - first["t_unix"]
    services: dict[str, dict[str, Any]] = {}
    for name in sorted(set(first["services"]) & set(last["services"])):
        present = [r["services"][name] for r in rows if name in r["services"]]
        cpu_s = last["services"][name]["cpu_s"] - first["services"][name]["cpu_s"]
        services[name] = {
            "rss_bytes": round(statistics.fmean(p["rss_bytes"] for p in present)),
            # None where the service was read from its /metrics page (stack.remote)
            "pss_bytes": _mean_or_none([p["pss_bytes"] for p in present]),
            "cpu_percent": 100 * cpu_s / span_s,
        }
    memory = [r["cgroup_memory_bytes"] for r in rows if r.get("cgroup_memory_bytes") is not None]
    begin_ns, end_ns = first.get("cgroup_cpu_ns"), last.get("cgroup_cpu_ns")
    if begin_ns is not None and end_ns is not None:
        total_cpu = 100 * (end_ns - begin_ns) / 1e9 / span_s
    else:
        total_cpu = sum(s["cpu_percent"] for s in services.values())
    return {
        "services": services,
        "total_rss_bytes": sum(s["rss_bytes"] for s in services.values()),
        "total_pss_bytes": _sum_or_none([s["pss_bytes"] for s in services.values()]),
        "total_cpu_percent": total_cpu,
        "cgroup_memory_bytes": round(statistics.fmean(memory)) if memory else None,
    }


def _mean_or_none(values: Sequence[float | None]) -> int | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known)) if known and len(known) == len(values) else None


def _sum_or_none(values: Sequence[float | None]) -> float | None:
    return None if None in values else sum(v for v in values if v is not None)


def ready(spawned_unix: Mapping[str, float], ready_unix: Mapping[str, float]) -> dict[str, Any]:
    """Start-to-ready seconds per service, and from the first spawn to the last ready."""
    return {
        "services": {n: ready_unix[n] - spawned_unix[n] for n in ready_unix},
        "total_s": max(ready_unix.values()) - min(spawned_unix.values()),
    }


def predictions(
    record: dict[str, Any], mix: Mapping[str, tuple[str, int, float]] = payloads.DEFAULT_MIX
) -> int:
    """Records answered with a prediction in the measured window: the successful, measured
    requests of each /predict name (those carrying Server-Timing) times its records."""
    return sum(
        int(sums.get("n", 0)) * mix[name][1]
        for name, sums in record.get("timings", {}).items()
        if name in mix and mix[name][0] == "/predict"
    )


def steady(
    rows: Sequence[dict[str, Any]], record: dict[str, Any], budget: Budget, prices: Prices
) -> dict[str, Any] | None:
    """Per million predictions of one steady run: CPU- and GB-seconds used and reserved, and
    their price (and the same per million requests). None when the run measured nothing."""
    start, end = record.get("measured_unix") or (None, None)
    requests, predicted = analysis.answered(record), predictions(record)
    if not start or not end or not requests or not predicted:
        return None
    window_s = end - start
    cpu_ms = resources.derive(rows, start, end, requests)["cpu_ms_per_request"]
    if cpu_ms is None:
        return None
    inside = [r for r in rows if start <= r["t_unix"] <= end]
    cgroup = [r["cgroup_memory_bytes"] for r in inside if r.get("cgroup_memory_bytes") is not None]
    if cgroup:
        memory_bytes, memory_source = statistics.fmean(cgroup), "cgroup"
    else:
        # PSS where this machine reads the processes, else (a remote stack) resident memory
        memory_source = (
            "pss"
            if all(s["pss_bytes"] is not None for r in inside for s in r["services"].values())
            else "rss"
        )
        key = f"{memory_source}_bytes"
        memory_bytes = statistics.fmean(sum(s[key] for s in r["services"].values()) for r in inside)
    cpu_s_total = cpu_ms / 1e3 * requests
    gb_s_total = memory_bytes / GiB * window_s
    per = MILLION / predicted
    cpu_s, gb_s = cpu_s_total * per, gb_s_total * per
    reserved_cpu_s = budget.cpus * window_s * per
    reserved_gb_s = budget.memory_bytes / GiB * window_s * per
    per_request = MILLION / requests
    return {
        "requests": requests,
        "predictions": predicted,
        "predictions_per_request": predicted / requests,
        "window_s": window_s,
        "memory_bytes": memory_bytes,
        "memory_source": memory_source,
        "cpu_s_per_million": cpu_s,
        "gb_s_per_million": gb_s,
        "usd_per_million": prices.usd(cpu_s, gb_s),
        "per_million_requests": {
            "cpu_s": cpu_s_total * per_request,
            "gb_s": gb_s_total * per_request,
            "usd": prices.usd(cpu_s_total * per_request, gb_s_total * per_request),
        },
        "reserved": {
            "cpu_s_per_million": reserved_cpu_s,
            "gb_s_per_million": reserved_gb_s,
            "usd_per_million": prices.usd(reserved_cpu_s, reserved_gb_s),
        },
    }


def median(values: Sequence[Any]) -> Any:
    """The median of the values present (None if none); byte counts stay whole numbers."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    middle = statistics.median(present)
    return round(middle) if all(isinstance(v, int) for v in present) else middle


def _median_of(figures: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Field-wise median of idle (or ready) figures over stack starts."""
    out: dict[str, Any] = {"services": {}}
    names = sorted({n for f in figures for n in f["services"]})
    for name in names:
        per = [f["services"][name] for f in figures if name in f["services"]]
        if isinstance(per[0], dict):
            out["services"][name] = {k: median([p[k] for p in per]) for k in per[0]}
        else:
            out["services"][name] = median(per)
    for key in figures[0]:
        if key != "services":
            out[key] = median([f[key] for f in figures if f.get(key) is not None])
    out["starts"] = len(figures)
    return out


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def summarize(
    folder: Path,
    archs: Sequence[str],
    budget: Budget,
    prices: Prices,
    validity: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The `cost` key of summary.json from the run folder's raw files (see the docstring).

    `validity` maps a steady run's key to whether it was valid (from its summary).
    """
    out: dict[str, Any] = {}
    for arch in archs:
        starts = [read(p) for p in sorted((folder / "raw" / "start" / arch).glob("*.json"))]
        figures: dict[str, Any] = {}
        idles = [idle(s["idle"]) for s in starts if len(s.get("idle", [])) >= 2]
        if idles:
            figures["idle"] = _median_of(idles)
        readies = [ready(s["spawned_unix"], s["ready_unix"]) for s in starts if s["ready_unix"]]
        if readies:
            figures["ready_s"] = _median_of(readies)
        runs = {}
        for raw in sorted((folder / "raw" / "steady" / arch).glob("rep*")):
            if not (raw / "latency.json").exists() or not (raw / "samples.json").exists():
                continue
            run = steady(read(raw / "samples.json"), read(raw / "latency.json"), budget, prices)
            if run is not None:
                key = f"steady/{arch}/{raw.name}"
                runs[key] = {**run, "valid": (validity or {}).get(key, True)}
        if runs:
            series = {
                "cpu_s_per_million": [r["cpu_s_per_million"] for r in runs.values()],
                "gb_s_per_million": [r["gb_s_per_million"] for r in runs.values()],
                "usd_per_million": [r["usd_per_million"] for r in runs.values()],
                "reserved_usd_per_million": [
                    r["reserved"]["usd_per_million"] for r in runs.values()
                ],
            }
            spread = {k: analysis.spread(v) for k, v in series.items()}
            reserved = [r["reserved"] for r in runs.values()]
            per_request = [r["per_million_requests"] for r in runs.values()]
            figures.update(
                cpu_s_per_million=spread["cpu_s_per_million"]["median"],
                gb_s_per_million=spread["gb_s_per_million"]["median"],
                usd_per_million=spread["usd_per_million"]["median"],
                reserved={k: statistics.median(r[k] for r in reserved) for k in reserved[0]},
                per_million_requests={
                    k: statistics.median(r[k] for r in per_request) for k in per_request[0]
                },
                predictions_per_request=statistics.median(
                    r["predictions_per_request"] for r in runs.values()
                ),
                spread=spread,
                runs=runs,
                invalid_runs=sum(1 for r in runs.values() if not r["valid"]),
            )
        if figures:
            out[arch] = figures
    if out:
        out["prices"] = prices.as_dict()
    return out
