"""The per-request ledger: every request's intended time, latency, status and the model version
its answer named, kept beside the histograms when a run needs single requests (a model update).

The exact-latency record (bench.measure.latency) keeps histograms per one-second bin, which is
what the load scenarios need; an update's figures (the longest gap without a success, the last
answer of the old version) need each request. `Ledger` is a Recorder that also keeps them, as
columns, in the order their answers came; sheds have status 0 and no latency.
"""

from __future__ import annotations

import time
from typing import Any

from bench.measure.latency import Recorder

SCHEMA = 1
# ~2 hours at 100 req/s; an update run lasts seconds, this only bounds an interactive session
MAX_REQUESTS = 1_000_000
SHED_STATUS = 0


class Ledger(Recorder):
    """A Recorder that also keeps each request as a row (see the module docstring)."""

    def reset(self, t0: float, warmup_s: float = 0.0) -> None:
        super().reset(t0, warmup_s)
        # the Unix time of t0, so that a deploy's events (Unix times) fall on the same axis
        self.start_unix = time.time() - (time.perf_counter() - t0)
        self.rows: dict[str, list[Any]] = {
            "name": [],
            "intended_s": [],
            "latency_ms": [],
            "status": [],
            "ok": [],
            "version": [],
        }

    def keep(
        self,
        name: str,
        intended: float,
        done: float | None,
        status: int,
        ok: bool,
        version: str | None,
    ) -> None:
        """One request (perf_counter times; `done` None for a shed one)."""
        rows = self.rows
        if len(rows["name"]) >= MAX_REQUESTS:
            return
        rows["name"].append(name)
        rows["intended_s"].append(round(intended - self.t0, 6))
        rows["latency_ms"].append(None if done is None else round((done - intended) * 1000, 3))
        rows["status"].append(status)
        rows["ok"].append(ok)
        rows["version"].append(version)

    def shed(self, name: str, intended: float) -> None:
        super().shed(name, intended)
        self.keep(name, intended, None, SHED_STATUS, False, None)

    def ledger_json(self) -> dict[str, Any]:
        """The ledger file: intended_s counts from the schedule's start, `start_unix`."""
        return {"schema": SCHEMA, "start_unix": self.start_unix, "requests": self.rows}
