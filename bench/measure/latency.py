"""Exact latency capture: HDR histograms per endpoint, kind and one-second bin, plus counters.

Two latencies are kept for every request: `intended` (from the time the open-loop schedule meant
to send it: what a user waiting on the schedule sees, free of coordinated omission) and `service`
(from the time it was really sent). Values are microseconds with 3 significant digits: exact to
0.1 ms up to 100 ms.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.measure import hdr
from serving import timing

SCHEMA = "archbench-latency/1"
LOWEST_US, HIGHEST_US, DIGITS = 1, 300_000_000, 3
KINDS = ("intended", "service")
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
MAX_PENDING = 200_000
# The gateway's fallback answer (microservices/resilience.py): not the answer asked for, so not
# ok, but counted apart from failures.
DEGRADED_STATUS = 203
# When failures happened (seconds from t0), per name: enough to time the first error of a fault.
MAX_FAILURE_TIMES = 10_000


def histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def to_us(seconds: float) -> int:
    return min(HIGHEST_US, max(LOWEST_US, round(seconds * 1e6)))


class Recorder:
    """Collects every request of one scenario run; dumped as JSON when the run ends."""

    def __init__(self, bin_s: float = 1.0) -> None:
        self.bin_s = bin_s
        self.reset(0.0)

    def reset(self, t0: float, warmup_s: float = 0.0) -> None:
        """Start over with bins counted from perf_counter time `t0`; lateness and stage timings
        leave out the first `warmup_s` seconds (histogram bins are filtered when analysed)."""
        self.t0 = t0
        self.measured_from = t0 + warmup_s
        self.pending: list[tuple[str, float, float, float, int, bool, str | None, bool]] = []
        self.hists: dict[tuple[str, str, int], HdrHistogram] = {}
        # per (name, bin): sent, ok, failed, shed, degraded (a subset of failed)
        self.counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        self.failure_times: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[tuple[str, int], int] = defaultdict(int)
        self.lateness = histogram()
        self.capped = 0
        self.timings: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def bin_of(self, t: float) -> int:
        return int((t - self.t0) // self.bin_s)

    def _hist(self, name: str, kind: str, b: int) -> HdrHistogram:
        key = (name, kind, b)
        hist = self.hists.get(key)
        if hist is None:
            hist = self.hists[key] = histogram()
        return hist

    def record(
        self,
        name: str,
        intended: float,
        sent: float,
        done: float,
        status: int,
        ok: bool,
        server_timing: str | None = None,
        capped: bool = False,
        version: str | None = None,
    ) -> None:
        """Record one answered (or failed) request; times are perf_counter seconds. `version`,
        the model version the answer named, is kept only by a per-request recorder
        (bench.measure.ledger): the histograms have no use for it.

        Only appended here: histograms are filled when the record is written, after the run, so
        that exact capture takes almost nothing from the generator while it drives load.
        """
        self.pending.append((name, intended, sent, done, status, ok, server_timing, capped))
        if len(self.pending) >= MAX_PENDING:  # a long interactive session: bound the memory
            self._fill()
        self.keep(name, intended, done, status, ok, version)

    def keep(
        self,
        name: str,
        intended: float,
        done: float | None,
        status: int,
        ok: bool,
        version: str | None,
    ) -> None:
        """Keep one request whole (`done` None for a shed one): what a per-request recorder
        (bench.measure.ledger) does; histograms and counts keep no single request."""

    def window(self, bins: range) -> tuple[HdrHistogram, dict[str, int]]:
        """The intended-time histogram and the counts over some bins, every request name: what
        the capacity search judges a trial on while it runs (the analysis reads the same from
        the written record)."""
        self._fill()
        total = histogram()
        for (_, kind, b), hist in self.hists.items():
            if kind == "intended" and b in bins:
                total.add(hist)
        counts = {"sent": 0, "ok": 0, "failed": 0, "shed": 0}
        for (_, b), c in self.counts.items():
            if b in bins:
                for i, key in enumerate(counts):
                    counts[key] += c[i]
        return total, counts

    def _fill(self) -> None:
        """Move the pending requests into the histograms and counters."""
        pending, self.pending = self.pending, []
        for request in pending:
            self._add(*request)

    def _add(
        self,
        name: str,
        intended: float,
        sent: float,
        done: float,
        status: int,
        ok: bool,
        server_timing: str | None,
        capped: bool,
    ) -> None:
        b = self.bin_of(intended)
        self._hist(name, "intended", b).record_value(to_us(done - intended))
        self._hist(name, "service", b).record_value(to_us(done - sent))
        counts = self.counts[(name, b)]
        counts[0] += 1
        counts[1 if ok else 2] += 1
        if status == DEGRADED_STATUS and not ok:
            counts[4] += 1
        elif not ok:
            self._failed_at(name, done)
        self.statuses[(name, status)] += 1
        if intended < self.measured_from:
            return
        if capped:
            self.capped += 1
        else:
            self.lateness.record_value(to_us(sent - intended))
        if ok and server_timing:
            sums = self.timings[name]
            sums["n"] += 1
            for stage, ms in timing.parse(server_timing).items():
                sums[stage] += ms

    def shed(self, name: str, intended: float) -> None:
        """Count a request the generator dropped because too many were waiting (a failure)."""
        counts = self.counts[(name, self.bin_of(intended))]
        counts[0] += 1
        counts[3] += 1
        self._failed_at(name, time.perf_counter())

    def _failed_at(self, name: str, t: float) -> None:
        times = self.failure_times[name]
        if len(times) < MAX_FAILURE_TIMES:
            times.append(round(t - self.t0, 4))

    def to_json(self, **extra: Any) -> dict[str, Any]:
        self._fill()
        return {
            "schema": SCHEMA,
            "bin_s": self.bin_s,
            "histograms": [
                {"name": n, "kind": k, "bin": b, "hist": h.encode().decode()}
                for (n, k, b), h in sorted(self.hists.items())
            ],
            "counts": [
                {
                    "name": n,
                    "bin": b,
                    "sent": c[0],
                    "ok": c[1],
                    "failed": c[2],
                    "shed": c[3],
                    "degraded": c[4],
                }
                for (n, b), c in sorted(self.counts.items())
            ],
            "statuses": [
                {"name": n, "status": s, "count": c} for (n, s), c in self.statuses.items()
            ],
            "lateness": self.lateness.encode().decode(),
            "capped": self.capped,
            "timings": {n: dict(v) for n, v in self.timings.items()},
            "failure_times_s": {n: sorted(v) for n, v in self.failure_times.items()},
            **extra,
        }


def decode(encoded: str) -> HdrHistogram:
    return HdrHistogram.decode(encoded.encode())


def summary_ms(hist: HdrHistogram) -> dict[str, float]:
    """Count, mean, percentiles and max in milliseconds."""
    if hist.get_total_count() == 0:
        return {"count": 0}
    values = hdr.percentiles(hist, PERCENTILES)
    out: dict[str, float] = {"count": hist.get_total_count(), "mean": hdr.mean(hist) / 1e3}
    for p in PERCENTILES:
        out[f"p{p:g}"] = values[p] / 1e3
    out["max"] = hist.get_max_value() / 1e3
    return out
