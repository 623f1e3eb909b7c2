"""`archbench` subcommands: train, up, microbench, perf. User mistakes exit 1 with one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from serving.settings import DEFAULT_MODEL_DIR


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus the message; one line that says what is valid is enough.
        sys.stderr.write(f"{self.prog}: {message}\n")
        sys.exit(1)


def _train(args: argparse.Namespace) -> None:
    from pipeline.train import train

    metadata = train(args.model_dir)
    print(
        f"model bundle written to {args.model_dir}: {metadata['name']} {metadata['version']}, "
        f"test metrics {metadata['metrics']}"
    )


def _up(args: argparse.Namespace) -> None:
    from stack.runner import run_until_interrupted

    run_until_interrupted(args.arch, base_port=args.port)


def _microbench(args: argparse.Namespace) -> None:
    from pipeline.microbench import main

    main(args.model_dir, seconds=args.seconds)


def build_parser() -> argparse.ArgumentParser:
    from stack.topology import ARCHITECTURES

    parser = _Parser(prog="archbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="build the demo model bundle")
    train.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    train.set_defaults(func=_train)

    up = sub.add_parser("up", help="start a stack as local processes until Ctrl-C")
    up.add_argument("arch", choices=ARCHITECTURES)
    up.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    up.set_defaults(func=_up)

    micro = sub.add_parser("microbench", help="in-process cost of each stage")
    micro.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    micro.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    micro.set_defaults(func=_microbench)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from pipeline.errors import BundleError
    from stack.runner import StackError, log_tail

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UserError, BundleError) as exc:
        sys.stderr.write(f"archbench: {exc}\n")
        sys.exit(1)
    except StackError as exc:
        sys.stderr.write(f"archbench: {exc}\n")
        if exc.log is not None:
            sys.stderr.write(f"--- last lines of {exc.log} ---\n{log_tail(exc.log)}\n")
        sys.exit(1)
