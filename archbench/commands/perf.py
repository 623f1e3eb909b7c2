"""`archbench perf`: the per-hop tax of the microservices, and the monolith's peak."""

from __future__ import annotations

import argparse
from pathlib import Path

from archbench.commands.tools import require_tools
from pipeline.errors import UserError
from pipeline.paths import DEFAULT_MODEL_DIR


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "perf", help="per-hop tax of the microservices; monolith peak vs in-process"
    )
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--requests", type=int, default=3000, help="sequential requests per stack")
    parser.add_argument("--rounds", type=int, default=6, help="turns the stacks take at low load")
    parser.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (closed loop)")
    parser.add_argument(
        "--port",
        type=int,
        default=8800,
        help="monolith port; micro uses port+10.., micro+mTLS port+20..",
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

    require_tools("perf", hint=" (apt-get install)")
    config = PerfConfig(
        model_dir=args.model_dir,
        requests=args.requests,
        rounds=args.rounds,
        warmup=args.warmup,
        wrk_seconds=args.wrk_seconds,
        wrk_connections=args.connections,
        base_port=args.port,
    )
    if args.into is not None and not (args.into / "meta.json").is_file():
        raise UserError(f"--into {args.into}: not a run folder (it has no meta.json)")
    print(f"kept: {save(main(config), args.into, RESULTS_ROOT)}")
