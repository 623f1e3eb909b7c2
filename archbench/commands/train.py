"""`archbench train`: build the demo model bundle, or a variant's."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pipeline.train import VARIANTS

    parser = sub.add_parser("train", help="build the demo model bundle (or a variant's)")
    parser.add_argument("--model-dir", type=Path, help="default: models/demo or models/<variant>")
    parser.add_argument("--variant", choices=VARIANTS, help="estimator weight (default: medium)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from pipeline.paths import DEFAULT_MODEL_DIR, variant_dir
    from pipeline.train import DEFAULT_VARIANT, train

    directory = args.model_dir or (variant_dir(args.variant) if args.variant else DEFAULT_MODEL_DIR)
    metadata = train(directory, args.variant or DEFAULT_VARIANT)
    print(
        f"model bundle written to {directory}: {metadata['name']} {metadata['version']}, "
        f"test metrics {metadata['metrics']}"
    )
