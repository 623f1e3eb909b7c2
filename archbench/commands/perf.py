"""`archbench perf`: the per-hop tax of the microservices, and the monolith's peak."""

from __future__ import annotations

import argparse
from pathlib import Path

from archbench.commands.tools import require_tools
from pipeline.errors import UserError
from pipeline.paths import DEFAULT_MODEL_DIR


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "perf",
        help="per-hop tax of the microservices and its floor; monolith peak vs in-process",
    )
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds (ABBA)")
    parser.add_argument(
        "--requests", type=int, default=400, help="sequential requests per stack and round"
    )
    parser.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    parser.add_argument(
        "--wrk-seconds", type=int, default=3, help="each stack's wrk window per round"
    )
    parser.add_argument(
        "--in-process-seconds",
        type=float,
        default=3.0,
        help="in-process run per round (default 3, as long as the default wrk window)",
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (closed loop)")
    parser.add_argument(
        "--port",
        type=int,
        default=8800,
        help="the first stack's port; the next ones +10 each, then the floor server",
    )
    parser.add_argument(
        "--into",
        type=Path,
        metavar="RUN_DIR",
        help="keep perf.json in this bench run's folder (its verdict quotes the price of secured "
        "hops); default: a new results/<stamp>-perf/",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.selfcheck.perf import PerfConfig, main
    from bench.selfcheck.perf.stored import save
    from pipeline.paths import RESULTS_ROOT

    for flag, value in (("--rounds", args.rounds), ("--requests", args.requests)):
        if value < 1:
            raise UserError(f"{flag} must be 1 or more, not {value}")
    if args.wrk_seconds < 1 or args.in_process_seconds <= 0:
        raise UserError("--wrk-seconds must be 1 or more and --in-process-seconds above 0")
    require_tools("perf", hint=" (apt-get install)")
    config = PerfConfig(
        model_dir=args.model_dir,
        rounds=args.rounds,
        requests=args.requests,
        warmup=args.warmup,
        wrk_seconds=args.wrk_seconds,
        in_process_seconds=args.in_process_seconds,
        wrk_connections=args.connections,
        base_port=args.port,
    )
    if args.into is not None and not (args.into / "meta.json").is_file():
        raise UserError(f"--into {args.into}: not a run folder (it has no meta.json)")
    print(f"kept: {save(main(config), args.into, RESULTS_ROOT)}")
