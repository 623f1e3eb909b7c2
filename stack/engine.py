"""The local Docker engine through the Docker SDK: client, version, image, and leftovers.

What compose projects of archbench left on it is found by their project label.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress

import docker
import docker.errors

from stack.budget import CGROUP_ROOT
from stack.runner import StackError

PROJECT_LABEL = "com.docker.compose.project"
OLDEST_API = "1.24"
DEFAULT_HOST = "unix:///var/run/docker.sock"


class EngineError(StackError):
    """No Docker engine answers, or it refused what the stack asked of it."""


def client() -> docker.DockerClient:
    """A client of the local engine speaking its API version (Engine 20.10 speaks 1.41)."""
    _check_socket(os.environ.get("DOCKER_HOST", DEFAULT_HOST))
    # Asked with the oldest version the SDK knows, the engine names its own; the probe is closed
    # whatever happens, so that a missing engine leaves no socket open.
    probe = docker.from_env(version=OLDEST_API, timeout=30)
    try:
        api = str(probe.version()["ApiVersion"])
    except docker.errors.DockerException as exc:
        raise EngineError(f"no Docker engine answers: {exc}") from None
    finally:
        probe.close()
    return docker.from_env(version=api, timeout=30)


def _check_socket(host: str) -> None:
    """EngineError when a local engine's socket does not answer. Checked here first: the SDK
    leaves its socket open when the connection fails."""
    if not host.startswith("unix://"):
        return
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError as exc:
            raise EngineError(f"no Docker engine answers on {path}: {exc.strerror}") from None


def require_image(engine: docker.DockerClient, image: str) -> None:
    """EngineError naming the make target when the engine has no such image."""
    try:
        engine.images.get(image)
    except docker.errors.ImageNotFound:
        raise EngineError(f"the engine has no image {image}; build it with `make image`") from None


def engine_version(engine: docker.DockerClient | None = None) -> str:
    return str((engine or client()).version().get("Version", "unknown"))


def remove_project(engine: docker.DockerClient, project: str) -> None:
    """Remove every container, network and volume labelled with the compose project `project`
    (what `compose down` left when it was interrupted or failed, or what we made ourselves)."""
    label = {"label": f"{PROJECT_LABEL}={project}"}
    with suppress(docker.errors.DockerException):
        for container in engine.containers.list(all=True, filters=label, ignore_removed=True):
            container.remove(force=True, v=True)
        for network in engine.networks.list(filters=label):
            network.remove()
        for volume in engine.volumes.list(filters=label):
            volume.remove(force=True)


def remove_engine_cgroups(parent: str | None) -> None:
    """A cgroup parent's folders the engine made in the hierarchies a stack.budget.Confinement
    does not use (blkio, devices, freezer, pids, ...): empty once its containers are gone."""
    if parent is None:
        return
    for path in CGROUP_ROOT.glob(f"*/{parent}"):
        with suppress(OSError):
            path.rmdir()


def leftovers(prefix: str = "archbench-") -> list[str]:
    """Containers, networks and volumes of compose projects named with `prefix`, for checks."""
    engine = client()
    found = []
    for kind, listed in (
        ("container", engine.containers.list(all=True, ignore_removed=True)),
        ("network", engine.networks.list()),
        ("volume", engine.volumes.list()),
    ):
        for thing in listed:
            project = (
                thing.attrs.get("Labels") or thing.attrs.get("Config", {}).get("Labels") or {}
            ).get(PROJECT_LABEL, "")
            if project.startswith(prefix):
                found.append(f"{kind} {thing.name} ({project})")
    return found
