"""Deployment files from the topology and one size per service: YAML with a comment header, and
compose projects (the Kubernetes manifests are stack.kubernetes).

A `Size` says how many copies of a service run and what each container asks for and may use.
The committed files take theirs from the budget split (`stack.topology.shares`); `archbench plan
--emit` takes them from the capacity model (bench.analyse.planned).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from pipeline.stages import STAGE_NAMES
from stack.compose import HEALTHCHECK_S, IMAGE, RESTART, probe
from stack.docker_config import MODEL_TARGET
from stack.topology import (
    COMMON_ENV,
    DEFAULT_PORT,
    Budget,
    Service,
    replica_counts,
    services,
    shares,
)

MiB = 1 << 20
# As in the committed compose files: Engine 20.10 knows no start_interval, so the first probe
# runs one interval after the start and the interval is short.
HEALTHCHECK = {
    "interval": f"{HEALTHCHECK_S}s", "timeout": "5s", "retries": 3, "start_period": "60s",
}  # fmt: skip
MODEL_VOLUME = "demo-model"


@dataclass(frozen=True)
class Size:
    """Copies of a service and, per container, CPU (cores) and memory (bytes) asked and allowed."""

    replicas: int
    cpu_request: Fraction
    memory_request_bytes: int
    cpu_limit: Fraction
    memory_limit_bytes: int


def split_sizes(arch: str, budget: Budget | None = None) -> dict[str, Size]:
    """One replica per service, asking for and limited to its share of the budget."""
    return {
        name: Size(1, cpus, memory, cpus, memory)
        for name, (cpus, memory) in shares(arch, budget or Budget()).items()
    }


def millicores(cores: float | Fraction) -> Fraction:
    """Cores rounded up to a whole millicore (what Kubernetes and Docker can express)."""
    return Fraction(math.ceil(Fraction(cores) * 1000 - Fraction(1, 10**9)), 1000)


def whole_mib(memory_bytes: float) -> int:
    """Bytes rounded up to a whole MiB."""
    return math.ceil(memory_bytes / MiB) * MiB


def dump(documents: Iterable[Mapping[str, Any]], header: Iterable[str]) -> str:
    """YAML documents (`---` separated) after a comment header, keys in the order given."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header)
    body = "---\n".join(
        yaml.safe_dump(dict(d), sort_keys=False, default_flow_style=False, width=100)
        for d in documents
    )
    return comment + body


def load(text: str) -> list[dict[str, Any]]:
    """The documents of a YAML file (empty ones left out)."""
    return [d for d in yaml.safe_load_all(text) if d]


def compose_project(
    arch: str,
    sizes: Mapping[str, Size],
    project_dir: Path,
    name: str | None = None,
) -> dict[str, Any]:
    """A compose project of `arch` with each service sized; a stage with more than one replica
    runs as the topology's explicit replica services (`score-2`, ...; the gateway round-robins
    over them), the monolith's replicas as uvicorn workers in its one container. The gateway,
    the one published port, stays one process whatever its replicas."""
    stack = services(arch, DEFAULT_PORT, host=lambda n: n, replicas=compose_replicas(arch, sizes))
    out: dict[str, Any] = {"name": name or f"archbench-{arch}", "services": {}}
    limits = compose_limits(arch, sizes)
    for service in stack:
        out["services"][service.name] = _compose_service(
            service, stack, limits[service.name], project_dir
        )
    out["volumes"] = {MODEL_VOLUME: {}}
    return out


def base_name(service: str) -> str:
    """The topology service a replica service copies (`score-2` → `score`)."""
    head, _, tail = service.rpartition("-")
    return head if head and tail.isdigit() else service


def compose_replicas(arch: str, sizes: Mapping[str, Size]) -> dict[str, int]:
    """The topology's replicas under these sizes: the stages' (services of their own) or the
    monolith's (its workers); the gateway has none (see compose_project)."""
    units = replica_counts(arch, None)
    return {n: s.replicas for n, s in sizes.items() if n in units and s.replicas > 1}


def compose_limits(arch: str, sizes: Mapping[str, Size]) -> dict[str, tuple[Fraction, int]]:
    """Each compose service's CPU and memory limit under these sizes: its requested CPU (compose
    caps each container on its own, as in the committed files) and its memory limit. A service
    that compose does not replicate (the monolith's workers, the one gateway) gets the CPU of
    all its planned replicas, and at least their memory."""
    found = {}
    for service in services(arch, DEFAULT_PORT, replicas=compose_replicas(arch, sizes)):
        size = sizes[base_name(service.name)]
        copies = 1 if base_name(service.name) in STAGE_NAMES else size.replicas
        memory = max(size.memory_limit_bytes, size.memory_request_bytes * copies)
        found[service.name] = (size.cpu_request * copies, memory)
    return found


def _compose_service(
    service: Service,
    stack: tuple[Service, ...],
    limits: tuple[Fraction, int],
    project_dir: Path,
) -> dict[str, Any]:
    cpus, memory = limits
    entry: dict[str, Any] = {
        "image": IMAGE,
        "build": {"context": str(project_dir), "dockerfile": "Dockerfile"},
        "restart": RESTART,
        "volumes": [f"${{ARCHBENCH_MODEL:-{MODEL_VOLUME}}}:{MODEL_TARGET}:ro"],
        "command": ["python", "-m", service.module, *service.args],
        "environment": {**COMMON_ENV, **service.env},
    }
    if service.entry:
        entry["ports"] = [f"127.0.0.1:${{ARCHBENCH_PORT:-{service.port}}}:{service.port}"]
        others = [s.name for s in stack if s is not service]
        entry["depends_on"] = {n: {"condition": "service_healthy"} for n in others}
    else:
        entry["expose"] = [str(service.port)]
    entry["healthcheck"] = {**HEALTHCHECK, "test": probe(service.port, service.ready_path)}
    entry["deploy"] = {"resources": {"limits": {"cpus": _decimal(cpus), "memory": f"{memory}b"}}}
    return entry


def _decimal(cores: Fraction) -> str:
    return f"{float(cores):.3f}".rstrip("0").rstrip(".")
