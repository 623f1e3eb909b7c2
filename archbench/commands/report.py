"""`archbench report`: write a run's report.html, report.md and figures."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="write a run's report.html, report.md and figures")
    parser.add_argument("run_dir", type=Path, help="a run folder, e.g. results/latest")
    parser.add_argument("--out", type=Path, help="write there instead of into the run folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.report.page import build
    from bench.run.rebuild import SUMMARY_FILE, rebuild

    folder: Path = args.run_dir
    if (folder / "meta.json").is_file() and not (folder / SUMMARY_FILE).exists():
        # The harness was killed before its summary: rebuild it from the complete raw runs.
        print(f"{folder}: {rebuild(folder)['reason']}")
    path = build(folder, args.out)
    print(f"report: {path}")
