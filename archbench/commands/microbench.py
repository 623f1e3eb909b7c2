"""`archbench microbench`: the in-process cost of each stage."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.paths import DEFAULT_MODEL_DIR


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("microbench", help="in-process cost of each stage")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.selfcheck.microbench import main

    main(args.model_dir, seconds=args.seconds)
