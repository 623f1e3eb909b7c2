"""`archbench bundle`: make a model bundle from your own fitted model and a sample of its input."""

from __future__ import annotations

import argparse
from pathlib import Path


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bundle", help="make a model bundle from a fitted scikit-learn model and sample data"
    )
    parser.add_argument(
        "model_file",
        type=Path,
        metavar="MODEL_FILE",
        help="the fitted model: .skops, or .joblib/.pkl with --trust-pickle",
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DATA_FILE",
        help="a sample of the model's input (.csv or .parquet)",
    )
    parser.add_argument(
        "--target", metavar="COLUMN", help="the data's target column, left out of the inputs"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the bundle folder to write"
    )
    parser.add_argument(
        "--name", metavar="N", help="the model's name (default: the model file's name)"
    )
    parser.add_argument(
        "--version", default="1", metavar="V", help="the model's version (default: 1)"
    )
    parser.add_argument(
        "--split", metavar="STEP", help="the pipeline step `score` starts at (default: the last)"
    )
    parser.add_argument(
        "--trust",
        type=_names,
        default=[],
        metavar="TYPE,...",
        help="types in a .skops file you trust although skops does not by default",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load a pickle/joblib model file (unpickling runs the file's code)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from pipeline.bundler import from_files

    metadata = from_files(
        args.model_file,
        args.data,
        args.out,
        target=args.target,
        name=args.name,
        version=args.version,
        split=args.split,
        trust=args.trust,
        trust_pickle=args.trust_pickle,
    )
    print(
        f"model bundle written to {args.out}: {metadata['name']} {metadata['version']}, "
        f"{metadata['task']}, {metadata['n_records']} records, "
        f"model sha256 {metadata['model_sha256'][:12]}"
    )
