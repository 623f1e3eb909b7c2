"""Resource use of a running stack and of the load generator: sampled at 2 Hz, then derived into
CPU-ms per request and memory per service (the derivation is a pure function of the samples).

A stack the harness did not start (stack.remote) is read from its services' /metrics pages
(bench.measure.scrape): no cgroup, no proportional memory, and no busy time of its machine's
CPUs, which stay None ("not measured") in the rows and in what is derived from them."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from bench.measure.contention import Ticks
from bench.measure.process import process_figures
from bench.measure.scrape import scrape
from stack.budget import generator_cpus, sut_cpus
from stack.remote import RemoteStack
from stack.runner import Stack

INTERVAL_S = 0.5
# After /readyz a process may still be finishing lazy imports and first allocations.
SETTLE_S = 1.0


class Sampler:
    """A background thread sampling a stack's processes, its cgroup and the generator."""

    def __init__(self, stack: Stack, generator_pid: int | None, interval_s: float = INTERVAL_S):
        self.stack, self.generator_pid, self.interval_s = stack, generator_pid, interval_s
        self.sut_cpus = sut_cpus(stack.budget)
        self.generator_cpus = generator_cpus(stack.budget)
        self.rows: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="archbench-sampler", daemon=True)

    def sample(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "t_unix": time.time(),
            "cgroup_cpu_ns": self.stack.confinement.cpu_usage_ns(),
            "cgroup_memory_bytes": self.stack.confinement.memory_bytes(),
            "services": {},
        }
        if isinstance(self.stack, RemoteStack):
            self._scrape(row)
        for name, pid in self.stack.pids().items():
            figures = process_figures(pid)
            if figures is not None:
                row["services"][name] = figures
        if self.generator_pid is not None:
            generator = process_figures(self.generator_pid)
            row["generator_cpu_s"] = generator["cpu_s"] if generator else None
        # Busy time of each side's CPUs, to tell work of ours from anything else running there.
        sut, gen = Ticks.read(self.sut_cpus), Ticks.read(self.generator_cpus)
        remote = isinstance(self.stack, RemoteStack)  # its CPUs are not this machine's
        row["sut_cpu_busy_s"] = None if remote else sut.busy_s / len(self.sut_cpus)
        row["generator_cpu_busy_s"] = gen.busy_s / len(self.generator_cpus)
        row["harness_cpu_s"] = time.process_time()
        return row

    def _scrape(self, row: dict[str, Any]) -> None:
        """A remote stack's services from their /metrics; those without a page, not measured."""
        assert isinstance(self.stack, RemoteStack)
        urls = self.stack.metrics_urls
        for name, url in urls.items():
            figures = scrape(url)
            if figures is not None:
                row["services"][name] = figures
        row["services_not_measured"] = [s.name for s in self.stack.services if s.name not in urls]

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.rows.append(self.sample())
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.rows.append(self.sample())


def _at(rows: Sequence[dict[str, Any]], t: float, get: Any) -> float | None:
    """A cumulative figure at time t, interpolated linearly between samples."""
    points = [(r["t_unix"], v) for r in rows if (v := get(r)) is not None]
    if len(points) < 2 or not points[0][0] <= t <= points[-1][0]:
        return None
    times = [p[0] for p in points]
    i = bisect_left(times, t)
    if times[i] == t:
        return float(points[i][1])
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    return float(v0 + (v1 - v0) * (t - t0) / (t1 - t0))


def _foreign(busy_s: float | None, ours_s: float | None, span_s: float) -> float | None:
    if busy_s is None or ours_s is None or span_s <= 0:
        return None
    return max(0.0, (busy_s - ours_s) / span_s)


def derive(
    rows: Sequence[dict[str, Any]], start_unix: float, end_unix: float, requests: int
) -> dict[str, Any]:
    """CPU per request (stack and per service), memory per service, generator CPU share."""
    span = end_unix - start_unix
    inside = [r for r in rows if start_unix <= r["t_unix"] <= end_unix]

    def delta(get: Any) -> float | None:
        a, b = _at(rows, start_unix, get), _at(rows, end_unix, get)
        return None if a is None or b is None else b - a

    names = sorted({n for r in rows for n in r["services"]})
    services = {}
    for name in names:
        cpu = delta(lambda r, n=name: r["services"].get(n, {}).get("cpu_s"))
        pss = [
            p
            for r in inside
            if name in r["services"] and (p := r["services"][name]["pss_bytes"]) is not None
        ]
        rss = [r["services"][name]["rss_bytes"] for r in inside if name in r["services"]]
        services[name] = {
            "cpu_ms_per_request": cpu * 1e3 / requests if cpu is not None and requests else None,
            "cpu_share": cpu / span if cpu is not None and span > 0 else None,
            "pss_bytes_mean": sum(pss) / len(pss) if pss else None,
            "rss_bytes_max": max(rss) if rss else None,
        }
    cgroup_ns = delta(lambda r: r.get("cgroup_cpu_ns"))
    process_cpu = [s["cpu_ms_per_request"] for s in services.values()]
    if any(r.get("services_not_measured") for r in rows):
        process_cpu.append(None)  # a sum over some of the services is not the stack's
    memory = [r["cgroup_memory_bytes"] for r in inside if r.get("cgroup_memory_bytes") is not None]
    generator = delta(lambda r: r.get("generator_cpu_s"))
    harness = delta(lambda r: r.get("harness_cpu_s"))
    sut_busy = delta(lambda r: r.get("sut_cpu_busy_s"))
    generator_busy = delta(lambda r: r.get("generator_cpu_busy_s"))
    stack_s = cgroup_ns / 1e9 if cgroup_ns is not None else None
    # Busy times are per CPU of each side; so are our own figures here (one CPU each by default).
    ours = generator + harness if generator is not None and harness is not None else None
    return {
        "window_s": span,
        "requests": requests,
        "cpu_ms_per_request": (
            cgroup_ns / 1e6 / requests
            if cgroup_ns is not None and requests
            else (sum(process_cpu) if process_cpu and None not in process_cpu else None)
        ),
        "cpu_source": (
            "cgroup"
            if cgroup_ns is not None
            else "metrics"
            if any("services_not_measured" in r for r in rows)
            else "processes"
        ),
        "stack_cpu_share": cgroup_ns / 1e9 / span if cgroup_ns is not None and span > 0 else None,
        "cgroup_memory_bytes_max": max(memory) if memory else None,
        "pss_bytes_total": sum(s["pss_bytes_mean"] or 0 for s in services.values()) or None,
        "services": services,
        "generator_cpu_share": generator / span if generator is not None and span > 0 else None,
        # Share of each side's CPU time taken by work that is not ours (other processes).
        "sut_foreign_share": _foreign(sut_busy, stack_s, span),
        "generator_foreign_share": _foreign(generator_busy, ours, span),
        "samples": len(inside),
    }


def at_rest(stack: Stack, idle_s: float, settle_s: float = SETTLE_S) -> list[dict[str, Any]]:
    """Sample rows of a ready stack with no load: after `settle_s`, for `idle_s`."""
    time.sleep(settle_s)
    sampler = Sampler(stack, None)
    with sampler:
        time.sleep(idle_s)
    return sampler.rows
