"""`archbench compare`: the headline figures of two runs, and a regression guard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bench.analyse.headline import BY_NAME

    parser = sub.add_parser("compare", help="headline figures of two runs; guard regressions")
    parser.add_argument("run_a", type=Path, help="the run before")
    parser.add_argument("run_b", type=Path, help="the run after")
    parser.add_argument(
        "--fail-on",
        help="exit 2 past a threshold, e.g. p99:+10%%,capacity:-5%% (figures: "
        f"{', '.join(BY_NAME)})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.analyse.compare import main

    sys.exit(main(args.run_a, args.run_b, args.fail_on))
