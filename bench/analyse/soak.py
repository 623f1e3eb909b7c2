"""What a soak's samples say about each service: its RSS slope (MiB/min, least squares over the
samples after the warm-up), its open file descriptors and connections at the start and the end,
and whether any grew past its bound (a leak).

Samples are `{"t_s": seconds since the load started, "services": {name: {"rss_bytes",
"open_fds", "connections"}}}`, as bench.run.soak takes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.config import BenchConfig

MiB = 1 << 20
# Growth beyond these flags a leak. A served model's heap settles within the warm-up; 1 MiB/min
# is 60 MiB an hour, far over the allocator's drift seen on this VM's 5-minute soaks of a
# healthy stack. Descriptors and connections are pooled, and a pool fills up to its bound: the
# load generator keeps one keep-alive connection per in-flight slot it has used (up to its
# in-flight bound), and no service sees more concurrent calls than that, so growth up to that
# bound (plus 16 for the rest) is a pool filling after a slow spell, not a leak.
MAX_RSS_SLOPE_MIB_PER_MIN = 1.0
MAX_FD_GROWTH = BenchConfig.max_in_flight + 16
MAX_CONNECTION_GROWTH = BenchConfig.max_in_flight + 16
# Start and end levels are the median of this many samples, so one sample caught mid-accept
# does not count as growth.
EDGE_SAMPLES = 3


def slope_per_min(times_s: Sequence[float], values: Sequence[float]) -> float | None:
    """The least-squares slope of values over time, per minute; None under two distinct times."""
    n = len(times_s)
    if n < 2:
        return None
    mean_t, mean_v = sum(times_s) / n, sum(values) / n
    spread = sum((t - mean_t) ** 2 for t in times_s)
    if spread == 0:
        return None
    covariance = sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True))
    return covariance / spread * 60.0


def _edge(values: Sequence[float], last: bool) -> float:
    part = sorted(values[-EDGE_SAMPLES:] if last else values[:EDGE_SAMPLES])
    return part[len(part) // 2]


def service(times_s: Sequence[float], rows: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    """One service's figures over the samples after the warm-up, with its leak flags."""
    rss = [r["rss_bytes"] / MiB for r in rows]
    slope = slope_per_min(times_s, rss)
    out: dict[str, Any] = {
        "samples": len(rows),
        "rss_mib": {"start": _edge(rss, False), "end": _edge(rss, True), "max": max(rss)},
        "rss_slope_mib_per_min": slope,
    }
    leaks = []
    if slope is not None and slope > MAX_RSS_SLOPE_MIB_PER_MIN:
        leaks.append(f"RSS grows {slope:.2f} MiB/min (bound {MAX_RSS_SLOPE_MIB_PER_MIN:g})")
    for key, bound in (("open_fds", MAX_FD_GROWTH), ("connections", MAX_CONNECTION_GROWTH)):
        values = [float(r[key]) for r in rows]
        start, end = _edge(values, False), _edge(values, True)
        out[key] = {"start": start, "end": end, "max": max(values)}
        if end - start > bound:
            leaks.append(f"{key.replace('_', ' ')} grew by {end - start:.0f} (bound {bound})")
    out["leaks"] = leaks
    return out


def analyse(samples: Sequence[Mapping[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Every service's figures (see `service`), and `leak`: whether any service leaks.
    ValueError when fewer than two samples follow the warm-up."""
    kept = [s for s in samples if s["t_s"] >= warmup_s]
    if len(kept) < 2:
        raise ValueError(f"{len(kept)} sample(s) after a warm-up of {warmup_s:g} s; need 2")
    names = sorted({name for s in kept for name in s["services"]})
    services = {}
    for name in names:
        present = [s for s in kept if name in s["services"]]
        times = [float(s["t_s"]) for s in present]
        services[name] = service(times, [s["services"][name] for s in present])
    return {
        "warmup_s": warmup_s,
        "bounds": {
            "rss_slope_mib_per_min": MAX_RSS_SLOPE_MIB_PER_MIN,
            "open_fds_growth": MAX_FD_GROWTH,
            "connections_growth": MAX_CONNECTION_GROWTH,
        },
        "services": services,
        "leak": any(s["leaks"] for s in services.values()),
    }
