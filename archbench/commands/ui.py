"""`archbench ui`: a stack plus Locust's web UI, for exploring by hand."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stack.topology import ARCHITECTURES

    parser = sub.add_parser("ui", help="a stack plus Locust's web UI on 127.0.0.1:8089")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="monolith")
    parser.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    parser.add_argument("--web-port", type=int, default=8089)
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="bundle to serve and load (default: models/demo)"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="Locust workers sharing the load (default: none)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.run.ui import main
    from pipeline.errors import UserError
    from serving.settings import Settings

    if args.workers < 0:
        raise UserError(f"--workers must be 0 or more, not {args.workers}")

    # the flag, else ARCHBENCH_MODEL_DIR, else the demo bundle
    main(
        args.arch,
        args.port,
        args.web_port,
        model_dir=Settings.from_env(model_dir=args.model).model_dir,
        workers=args.workers,
    )
