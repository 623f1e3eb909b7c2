"""Where a request's time goes, from a run's Server-Timing sums: each stage's own compute, each
network hop (request and answer on the wire, serialisation, the stage's HTTP framework), the entry
process's own work, and what lies outside its handler."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.store.stored import StoredRun
from pipeline.stages import STAGE_NAMES
from serving.timing import HOP_SUFFIX

# The request name the split is shown for: one record through all four stages.
REQUEST = "predict"
# Scenarios whose runs may give the split, best first: the common load, without overload.
SCENARIOS = ("steady", "spike", "capacity", "ramp")


@dataclass(frozen=True)
class Split:
    """Mean milliseconds per successful request (mean over repetitions of the per-run means)."""

    scenario: str
    runs: int
    stages_ms: dict[str, float]  # stage → its own compute
    hops_ms: dict[str, float]  # stage → the hop to it (microservices only)
    total_ms: float  # inside the entry process's handler
    client_ms: float | None  # service time the load generator saw (mean)

    @property
    def entry_ms(self) -> float:
        """The entry process's own work inside its handler: what neither stages nor hops took."""
        return self.total_ms - sum(self.stages_ms.values()) - sum(self.hops_ms.values())

    @property
    def outside_ms(self) -> float | None:
        """Client ↔ entry: the connection, HTTP parsing and framework outside the handler."""
        return None if self.client_ms is None else self.client_ms - self.total_ms

    @property
    def hops(self) -> int:
        return len(self.hops_ms)


def split(run: StoredRun, arch: str, request: str = REQUEST) -> Split | None:
    """The time split of one architecture, from the first scenario in SCENARIOS that has it."""
    for scenario in SCENARIOS:
        timed = []
        for _, summary in run.runs(scenario, arch):
            stages = (summary.get("stage_ms") or {}).get(request)
            if stages and "total" in stages:
                service = (summary.get("measured") or {}).get(request, {}).get("service_ms", {})
                timed.append((stages, service.get("mean")))
        if timed:
            return _mean_split(scenario, timed)
    return None


def _mean_split(scenario: str, timed: list[tuple[dict[str, float], float | None]]) -> Split:
    def mean(name: str) -> float:
        return statistics.fmean(stages.get(name, 0.0) for stages, _ in timed)

    names = {name for stages, _ in timed for name in stages}
    clients = [client for _, client in timed if client is not None]
    return Split(
        scenario=scenario,
        runs=len(timed),
        stages_ms={s: mean(s) for s in STAGE_NAMES if s in names},
        hops_ms={s: mean(s + HOP_SUFFIX) for s in STAGE_NAMES if s + HOP_SUFFIX in names},
        total_ms=mean("total"),
        client_ms=statistics.fmean(clients) if clients else None,
    )
