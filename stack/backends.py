"""Where a stack runs: local processes, a compose project on Docker, or a deployment already
running elsewhere, behind one constructor.

The harness and `archbench up` name a backend (stack.runner, stack.docker_stack, stack.remote)
and get a Stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stack.runner import Stack, StackError
from stack.targets import Target

BACKENDS = ("local", "docker", "remote")
# How the Docker backend holds a stack to its budget (stack.docker_config): each container its
# own CPU cap (compose's split), or every container of the stack under one shared cap.
DOCKER_BUDGETS = ("partition", "shared")


def new_stack(
    backend: str,
    docker_budget: str,
    *args: Any,
    targets: Sequence[Target] = (),
    **kwargs: Any,
) -> Stack:
    """A stack of `backend`, with the arguments of stack.runner.Stack (remote: the `targets`
    the harness did not start, one per architecture)."""
    if backend == "remote":
        from stack.remote import RemoteStack

        kwargs.pop("secure_hops", None)  # the deployment's own; BenchConfig refuses the flag
        arch = args[0] if args else kwargs["arch"]
        target = next((t for t in targets if t.arch == arch), None)
        kwargs["target"] = target
        return RemoteStack(*args, **kwargs)
    if backend == "docker":
        from stack.docker_stack import DockerStack  # the Docker SDK only where Docker is used

        if kwargs.pop("secure_hops", False):
            raise StackError(
                "--secure-hops runs on the local backend only: the compose files carry no TLS"
            )
        kwargs["mode"] = docker_budget
        return DockerStack(*args, **kwargs)
    return Stack(*args, **kwargs)


def describe(backend: str, docker_budget: str, targets: Sequence[Target] = ()) -> dict[str, object]:
    """What meta.json and the report say of where the stacks ran."""
    if backend == "remote":
        return {"backend": "remote", "targets": [t.public() for t in targets]}
    if backend != "docker":
        return {"backend": "local"}
    from stack.engine import engine_version

    return {"backend": "docker", "engine": engine_version(), "mode": docker_budget}
