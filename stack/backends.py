"""Where a stack runs: local processes or a compose project on Docker, behind one constructor.

The harness and `archbench up` name a backend (stack.runner, stack.docker_stack) and get a Stack.
"""

from __future__ import annotations

from typing import Any

from stack.runner import Stack, StackError

BACKENDS = ("local", "docker")
# How the Docker backend holds a stack to its budget (stack.docker_config): each container its
# own CPU cap (compose's split), or every container of the stack under one shared cap.
DOCKER_BUDGETS = ("partition", "shared")


def new_stack(backend: str, docker_budget: str, *args: Any, **kwargs: Any) -> Stack:
    """A stack of `backend`, with the arguments of stack.runner.Stack."""
    if backend == "docker":
        from stack.docker_stack import DockerStack  # the Docker SDK only where Docker is used

        if kwargs.pop("secure_hops", False):
            raise StackError(
                "--secure-hops runs on the local backend only: the compose files carry no TLS"
            )
        kwargs["mode"] = docker_budget
        return DockerStack(*args, **kwargs)
    return Stack(*args, **kwargs)


def describe(backend: str, docker_budget: str) -> dict[str, object]:
    """What meta.json and the report say of where the stacks ran."""
    if backend != "docker":
        return {"backend": "local"}
    from stack.engine import engine_version

    return {"backend": "docker", "engine": engine_version(), "mode": docker_budget}
