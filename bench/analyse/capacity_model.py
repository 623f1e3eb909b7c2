"""A capacity model past one machine: for K cores and chosen replica counts, the maximum throughput,
the p99 at a rate, the throughput meeting a p99 objective, the memory and the price per hour, from
measured per-station CPU demand (operational laws plus an M/M/m bottleneck queue). Pure functions.

Stations. A station is one kind of process: a stage service or the gateway of the microservices,
or the whole monolith. Each replica (or monolith worker) is a single-threaded process, so it uses
at most one core. D_s is the CPU-ms station s spends per request of the mix, as measured.

Throughput bound (utilisation law U = X·D, bottleneck law). With c_s replicas of each station
and K cores shared by all processes, no deployment serves more than

    X_max = min( min_s c_s / D_s ,  K / sum_s D_s )

the first term: the busiest station's replicas are all busy; the second: every core is busy.

Latency growth. Each resource is an M/M/m queue: a station with m = c_s servers of service time
D_s; the cores with m = ceil(K) servers of speed K/ceil(K) and service time sum_s D_s (a request's
whole CPU work). Conditional on waiting, an M/M/m wait is exponential with rate m/S - X, and it
waits with Erlang's C probability, so its 99th percentile is

    W99(X) = max(0, ln(100 · C(m, X·S))) / (m/S - X).

The slowest queue dominates: p99(X) = base_p99 + max over resources of W99(X). base_p99 is the
latency with no queueing (network, HTTP, the CPU work itself), calibrated as a measured low-load
p99 minus the model's W99 at that load (at least the whole CPU demand). The capacity at an
objective is the highest X with p99(X) <= objective (bisection: p99 grows with X).

Memory: a station's first replica M_s, every further one dM_s. Price per hour: K vCPU-hours plus
the memory's GB-hours. Not modelled: network between nodes (hops stay as cheap as loopback),
per-container minimum reservations, cores faster or slower than the measured ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

GiB = 1 << 30
CORES = "cores"


@dataclass(frozen=True)
class Station:
    """One kind of process: its CPU per request, the memory of its first and further replicas."""

    name: str
    cpu_ms: float
    memory_bytes: float = 0.0
    added_memory_bytes: float = 0.0


@dataclass(frozen=True)
class Model:
    """An architecture as stations, with its no-queueing p99."""

    arch: str
    stations: tuple[Station, ...]
    base_p99_ms: float

    @property
    def cpu_ms(self) -> float:
        """A request's whole CPU work: the demand on the cores."""
        return sum(s.cpu_ms for s in self.stations)


@dataclass(frozen=True)
class Deployment:
    """K cores (fractions allowed) and replicas per station (1 where not named)."""

    cores: float
    replicas: Mapping[str, int] = field(default_factory=dict)

    def of(self, station: str) -> int:
        return self.replicas.get(station, 1)


@dataclass(frozen=True)
class Queue:
    """A resource as an M/M/m queue: m servers, each taking `service_ms` per request."""

    name: str
    servers: int
    service_ms: float

    @property
    def max_rps(self) -> float:
        return self.servers / self.service_ms * 1e3


def erlang_c(servers: int, load: float) -> float:
    """Probability that a request waits in an M/M/m queue with `load` = X·S (in servers)."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion, then C from B
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
        if blocking < 1e-18:  # only falls from here on: no request waits, to any precision
            return 0.0
    rho = load / servers
    return blocking / (1 - rho * (1 - blocking))


def queues(model: Model, deployment: Deployment) -> list[Queue]:
    """Every resource of the deployment: the stations' replicas and the cores."""
    found = [Queue(s.name, deployment.of(s.name), s.cpu_ms) for s in model.stations]
    servers = max(1, math.ceil(deployment.cores))
    found.append(Queue(CORES, servers, model.cpu_ms * servers / deployment.cores))
    return found


def bottleneck(model: Model, deployment: Deployment) -> Queue:
    """The resource that bounds throughput."""
    return min(queues(model, deployment), key=lambda q: q.max_rps)


def max_rps(model: Model, deployment: Deployment) -> float:
    """The throughput bound X_max (requests per second)."""
    return bottleneck(model, deployment).max_rps


def wait_p99_ms(queue: Queue, rate_rps: float) -> float:
    """The 99th percentile of the wait in one M/M/m queue at a rate (inf at or past saturation)."""
    per_ms = rate_rps / 1e3
    drain = queue.servers / queue.service_ms - per_ms
    if drain <= 0:
        return math.inf
    waits = erlang_c(queue.servers, per_ms * queue.service_ms)
    return max(0.0, math.log(100 * waits)) / drain if waits > 0 else 0.0


def p99_ms(model: Model, deployment: Deployment, rate_rps: float) -> float:
    """The modelled p99 latency at a rate."""
    return model.base_p99_ms + max(wait_p99_ms(q, rate_rps) for q in queues(model, deployment))


def capacity_rps(model: Model, deployment: Deployment, slo_ms: float) -> float:
    """The highest rate whose modelled p99 meets the objective (0 if none does)."""
    low, high = 0.0, max_rps(model, deployment)
    if p99_ms(model, deployment, 0.0) > slo_ms:
        return 0.0
    for _ in range(40):
        middle = (low + high) / 2
        if p99_ms(model, deployment, middle) <= slo_ms:
            low = middle
        else:
            high = middle
    return low


def memory_bytes(model: Model, deployment: Deployment) -> float:
    """The memory of every replica of every station."""
    return sum(
        s.memory_bytes + (deployment.of(s.name) - 1) * s.added_memory_bytes for s in model.stations
    )


def usd_per_hour(
    model: Model, deployment: Deployment, vcpu_hour_usd: float, gb_hour_usd: float
) -> float:
    """The deployment's price per hour: its cores and its memory."""
    gb = memory_bytes(model, deployment) / GiB
    return deployment.cores * vcpu_hour_usd + gb * gb_hour_usd


def deployment_for(model: Model, cores: float) -> Deployment:
    """The replicas to run on K cores: each station gets replicas in proportion to its share of
    the CPU demand (at least one), so no station bounds throughput before the cores do; a
    monolith gets one worker per core."""
    replicas = {
        s.name: max(1, math.ceil(cores * s.cpu_ms / model.cpu_ms - 1e-9)) for s in model.stations
    }
    return Deployment(cores, replicas)


def core_steps(max_cores: int) -> list[float]:
    """The core counts a plan may choose: quarter cores up to one, then whole cores."""
    return [0.25, 0.5, 0.75, *range(1, max_cores + 1)]


def smallest_for(model: Model, rate_rps: float, slo_ms: float, max_cores: int) -> Deployment | None:
    """The fewest cores (with deployment_for's replicas) that serve the rate within the objective;
    None if even `max_cores` do not. Capacity grows with cores: an exponential then a binary
    search find it without modelling far larger deployments than needed."""
    steps = core_steps(max_cores)

    def enough(i: int) -> bool:
        return capacity_rps(model, deployment_for(model, steps[i]), slo_ms) >= rate_rps

    high = 0
    while not enough(high):
        if high == len(steps) - 1:
            return None
        high = min(len(steps) - 1, 2 * high + 1)
    low = (high - 1) // 2 if high else 0
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return deployment_for(model, steps[low])
