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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.run.ui import main
    from serving.settings import Settings

    # the flag, else ARCHBENCH_MODEL_DIR, else the demo bundle
    main(
        args.arch,
        args.port,
        args.web_port,
        model_dir=Settings.from_env(model_dir=args.model).model_dir,
    )
