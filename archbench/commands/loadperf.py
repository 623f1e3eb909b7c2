"""`archbench loadperf`: the load generator's CPU per request, capture cost, and wrk parity."""

from __future__ import annotations

import argparse

from archbench.commands.tools import require_tools
from pipeline.errors import UserError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "loadperf", help="the load generator's CPU per request, capture cost, and wrk parity"
    )
    parser.add_argument("--rate", type=float, default=2500.0, help="cost runs' req/s")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured s per cost run")
    parser.add_argument("--repeat", type=int, default=4, help="cost runs of each kind")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of Locust against wrk on each stack"
    )
    parser.add_argument(
        "--port", type=int, default=8900, help="monolith port; micro: port+10..; floor: port+20"
    )
    parser.add_argument(
        "--workers",
        help="Locust worker counts whose capacity to measure against the perf floor server, "
        "next to wrk, e.g. 1,2,4",
    )
    parser.add_argument(
        "--worker-rate",
        type=float,
        default=20000.0,
        help="open-loop req/s offered per worker: more than one sends",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.selfcheck.loadperf import LoadPerfConfig, main

    for flag, value in (("--repeat", args.repeat), ("--rounds", args.rounds)):
        if value < 1:
            raise UserError(f"{flag} must be 1 or more, not {value}")
    try:
        workers = tuple(int(n) for n in args.workers.split(",")) if args.workers else ()
    except ValueError:
        workers = (0,)
    if any(n < 1 for n in workers) or args.worker_rate <= 0:
        raise UserError(
            f"--workers takes worker counts of 1 or more separated by commas (not "
            f"{args.workers!r}) and --worker-rate a rate above 0"
        )
    require_tools("loadperf")
    config = LoadPerfConfig(
        rate=args.rate,
        cost_s=args.seconds,
        repeats=args.repeat,
        rounds=args.rounds,
        base_port=args.port,
        workers=workers,
        worker_rate=args.worker_rate,
    )
    main(config)
