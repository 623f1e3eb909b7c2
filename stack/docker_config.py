"""The compose project of one Docker-backend stack: the architecture's compose file, adjusted.

Starts from the file as Compose resolves it (so what runs is what the file says, held to the
topology by stack.compose) and changes only what a run decides: the published port, the model
folder (bind-mounted read-only where the image keeps its demo), the serving settings, the
restart policy, the parent cgroup and the budget mode.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.paths import DEFAULT_MODEL_DIR, ROOT
from serving.settings import environ
from stack.compose import compose_file, resolve
from stack.topology import DEFAULT_PORT, services

# Where every service of the image looks for its bundle (the image is the checkout at /app).
MODEL_TARGET = "/app/" + str(DEFAULT_MODEL_DIR.relative_to(ROOT))


def project_config(
    arch: str,
    base_port: int,
    mode: str,
    cgroup_parent: str,
    settings: Mapping[str, object],
    restart: bool,
) -> dict[str, Any]:
    """The resolved compose model of `arch` for one run.

    `partition` keeps each container's CPU cap (compose's split of the budget); `shared` drops
    them, so the containers share their parent cgroup's CPU quota (the whole budget), as the
    local runner's processes share theirs. Memory stays split per container in both modes.
    """
    config = resolve(compose_file(arch))
    settings = dict(settings)
    model_dir = settings.pop("model_dir", None)
    admin_ports = {s.name: s.admin_port for s in services(arch, DEFAULT_PORT, host=lambda n: n)}
    for name, service in config["services"].items():
        service.pop("build", None)
        for port in service.get("ports") or []:
            port["published"], port["host_ip"] = str(base_port), "127.0.0.1"
        service["cgroup_parent"] = cgroup_parent
        service["restart"] = "unless-stopped" if restart else "no"
        # Each process's admin listener, on the container's own loopback (stack.netns reaches it).
        own = {**settings, "admin_port": admin_ports[name]}
        service["environment"] = {**(service.get("environment") or {}), **environ(own)}
        if model_dir is not None:
            mount = {"type": "bind", "source": str(Path(str(model_dir)).resolve())}
            service["volumes"] = [{**mount, "target": MODEL_TARGET, "read_only": True}]
        if mode == "shared":
            limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
            limits.pop("cpus", None)
    if model_dir is not None:
        config.pop("volumes", None)
    return config


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1))
