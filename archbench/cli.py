"""`archbench` subcommands: train, up, bench, soak, report, compare, plan, ui, microbench, perf,
loadperf. Mistakes: one line, exit 1."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from archbench.commands import (
    bench,
    bundle,
    compare,
    loadperf,
    microbench,
    perf,
    plan,
    report,
    soak,
    train,
    ui,
    up,
)
from pipeline.errors import UserError

# The order `archbench --help` lists them in.
COMMANDS = (train, bundle, up, microbench, perf, loadperf, bench, soak, report, compare, plan, ui)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus the message; one line that says what is valid is enough.
        sys.stderr.write(f"{self.prog}: {message}\n")
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    """The `archbench` parser with every subcommand's arguments."""
    parser = _Parser(prog="archbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run one subcommand; a UserError is one line (and its details) on stderr, exit code 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        sys.stderr.write(f"archbench: {exc}\n")
        details = exc.details()
        if details is not None:
            sys.stderr.write(f"{details}\n")
        sys.exit(1)
