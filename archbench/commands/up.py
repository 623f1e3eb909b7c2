"""`archbench up`: start a stack as local processes until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stack.topology import ARCHITECTURES

    parser = sub.add_parser("up", help="start a stack as local processes until Ctrl-C")
    parser.add_argument("arch", choices=ARCHITECTURES)
    parser.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="bundle to serve (default: models/demo)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from serving.settings import Settings
    from stack.runner import run_until_interrupted

    # the flag, else ARCHBENCH_MODEL_DIR, else the demo bundle
    model_dir = Settings.from_env(model_dir=args.model).model_dir
    run_until_interrupted(args.arch, base_port=args.port, model_dir=model_dir)
