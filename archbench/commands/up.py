"""`archbench up`: start a stack (local processes, or a compose project on Docker) until Ctrl-C."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stack.backends import BACKENDS, DOCKER_BUDGETS
    from stack.topology import ARCHITECTURES

    parser = sub.add_parser("up", help="start a stack as local processes until Ctrl-C")
    parser.add_argument("arch", choices=ARCHITECTURES)
    parser.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="bundle to serve (default: models/demo)"
    )
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="default: local")
    parser.add_argument(
        "--docker-budget",
        choices=DOCKER_BUDGETS,
        default="partition",
        help="docker: each container its own CPU cap (partition) or one for the stack (shared)",
    )
    parser.add_argument(
        "--secure-hops",
        action="store_true",
        help="mutual TLS between the gateway and the stages (the monolith has no hops)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from serving.settings import Settings
    from stack.backends import new_stack
    from stack.up import run_until_interrupted

    # the flag, else ARCHBENCH_MODEL_DIR, else the demo bundle
    model_dir = Settings.from_env(model_dir=args.model).model_dir
    make = functools.partial(new_stack, args.backend, args.docker_budget)
    run_until_interrupted(args.arch, args.port, model_dir, args.secure_hops, make)
