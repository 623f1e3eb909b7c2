"""`archbench soak`: one architecture under steady load for minutes; each service's RSS slope,
open descriptors and connections, and whether any leaks."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pipeline.errors import UserError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?")


def duration_s(text: str) -> float:
    """Seconds from `300`, `90s`, `5m` or `1h`; UserError names the valid forms."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or float(match[1]) <= 0:
        raise UserError(f"--duration {text!r}: give a positive time like 300, 90s, 5m or 1h")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2] or "s"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stack.topology import ARCHITECTURES

    parser = sub.add_parser("soak", help="one architecture under steady load: does it leak?")
    parser.add_argument("--arch", choices=ARCHITECTURES, required=True)
    parser.add_argument("--duration", default="5m", help="how long, e.g. 300, 90s, 5m (5m)")
    parser.add_argument("--rate", type=float, help="requests/s; default: a share of the capacity")
    parser.add_argument(
        "--rate-fraction", type=float, default=0.5, help="share of the probed capacity (0.5)"
    )
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not analysed (60)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--model", type=Path, metavar="DIR", help="bundle (default: models/demo)")
    parser.add_argument("--port", type=int, default=8000, help="entry port")
    parser.add_argument("--secure-hops", action="store_true", help="mutual TLS between services")
    parser.add_argument("--results-dir", type=Path, default=None, help="default: results/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.report.console import stdout
    from bench.report.soak_console import bounds_line, soak_table
    from bench.run.progress import Display
    from bench.run.soak import SoakConfig
    from bench.run.soak import run as soak
    from pipeline.paths import RESULTS_ROOT
    from serving.settings import Settings

    if not 0 < args.rate_fraction <= 1:
        raise UserError(f"--rate-fraction {args.rate_fraction:g}: give a share in (0, 1]")
    for flag, value in (("--rate", args.rate), ("--interval", args.interval)):
        if value is not None and value <= 0:
            raise UserError(f"{flag} {value:g}: give a positive number")
    config = SoakConfig(
        arch=args.arch,
        duration_s=duration_s(args.duration),
        rate=args.rate,
        rate_fraction=args.rate_fraction,
        warmup_s=args.warmup,
        interval_s=args.interval,
        model_dir=str(Settings.from_env(model_dir=args.model).model_dir),
        base_port=args.port,
        secure_hops=args.secure_hops,
    )
    path, data = soak(config, Display(), args.results_dir or RESULTS_ROOT)
    console = stdout()
    console.print(soak_table(data))
    console.print(bounds_line(data), highlight=False)
    console.print(f"results: {path / 'soak.json'}", highlight=False)
