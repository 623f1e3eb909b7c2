"""The topology of each architecture, defined once: services, commands, ports, environment, budget.

The local runner and the compose files are both derived from (and tested against) this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from pipeline.stages import STAGE_NAMES

ARCHITECTURES = ("monolith", "micro", "micro-flask")
DEFAULT_PORT = 8000
# Each service's admin listener (loopback only) is its port plus this: a stack's five services
# use base..base+4, their admin listeners base+5..base+9.
ADMIN_PORT_OFFSET = 5
GiB = 1 << 30

# Pin native thread pools to one thread in every process of both architectures: the budget is one
# CPU, and a pool sized to the host would make the architectures differ by thread count.
COMMON_ENV: Mapping[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class Budget:
    """The resources the whole system under test shares, whatever its architecture."""

    cpus: float = 1.0
    memory_bytes: int = 2 * GiB


@dataclass(frozen=True)
class Service:
    """One process of a stack: `module` runs as `python -m module *args`."""

    name: str
    module: str
    args: tuple[str, ...]
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    entry: bool = False

    @property
    def ready_path(self) -> str:
        return "/readyz"

    @property
    def admin_port(self) -> int:
        return self.port + ADMIN_PORT_OFFSET


def services(
    arch: str, base_port: int = DEFAULT_PORT, host: Callable[[str], str] = lambda _: "127.0.0.1"
) -> tuple[Service, ...]:
    """The services of an architecture in start order (entry point last).

    `host(name)` says how one service reaches another: loopback locally, the service name in
    compose.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}"
        )
    if arch == "monolith":
        return (Service("monolith", "monolith", port_args(base_port), base_port, entry=True),)
    ports = {name: base_port + 1 + i for i, name in enumerate(STAGE_NAMES)}
    stages = []
    for name, port in ports.items():
        if arch == "micro-flask" and name == "features":
            stages.append(
                Service(name, "microservices.flask_stage", (name, *port_args(port)), port)
            )
        else:
            stages.append(Service(name, "microservices.stage", (name, *port_args(port)), port))
    urls = {
        f"ARCHBENCH_{name.upper()}_URL": f"http://{host(name)}:{port}"
        for name, port in ports.items()
    }
    gateway = Service(
        "gateway", "microservices.gateway", port_args(base_port), base_port, urls, True
    )
    return (*stages, gateway)


def shares(arch: str, budget: Budget) -> dict[str, tuple[Fraction, int]]:
    """How a per-container platform (compose) splits the stack's budget among its services.

    CPU evenly; memory evenly in whole multiples of 8 MiB, the remainder to the entry point, so
    that the parts add up to exactly the budget of the whole stack.
    """
    names = [s.name for s in services(arch)]
    cpus = Fraction(str(budget.cpus)) / len(names)
    step = 8 << 20
    each = budget.memory_bytes // len(names) // step * step
    entry = next(s.name for s in services(arch) if s.entry)
    rest = budget.memory_bytes - each * (len(names) - 1)
    return {n: (cpus, rest if n == entry else each) for n in names}


def hosting(arch: str, stage: str) -> str:
    """The service whose process runs a stage: the whole app in the monolith."""
    return "monolith" if arch == "monolith" else stage


def port_args(port: int) -> tuple[str, ...]:
    return ("--port", str(port))


def entry(arch: str, base_port: int = DEFAULT_PORT) -> Service:
    """The service that serves the public API."""
    return next(s for s in services(arch, base_port) if s.entry)
