"""`archbench up`: start a stack as local processes until Ctrl-C."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stack.topology import ARCHITECTURES

    parser = sub.add_parser("up", help="start a stack as local processes until Ctrl-C")
    parser.add_argument("arch", choices=ARCHITECTURES)
    parser.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from stack.runner import run_until_interrupted

    run_until_interrupted(args.arch, base_port=args.port)
