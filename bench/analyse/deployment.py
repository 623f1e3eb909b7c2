"""What deploying an architecture takes: units, ports and settings to keep in sync, counted from
its single definition in stack.topology."""

from __future__ import annotations

from dataclasses import dataclass

from stack.topology import services


@dataclass(frozen=True)
class Topology:
    """What deploying an architecture takes, from its single definition in stack.topology."""

    units: int  # processes to deploy, start and keep running
    listening_ports: int
    published_ports: int  # reachable by clients
    config_items: int  # settings that must agree across services (each peer's URL)
    admin_listeners: int  # fault-injection endpoints: loopback only, token required


def topology(arch: str) -> Topology:
    found = services(arch)
    return Topology(
        units=len(found),
        listening_ports=len({s.port for s in found}),
        published_ports=sum(1 for s in found if s.entry),
        config_items=sum(len(s.env) for s in found),
        admin_listeners=len({s.admin_port for s in found}),
    )
