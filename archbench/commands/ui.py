"""`archbench ui`: a stack plus Locust's web UI, for exploring by hand."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stack.topology import ARCHITECTURES

    parser = sub.add_parser("ui", help="a stack plus Locust's web UI on 127.0.0.1:8089")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="monolith")
    parser.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    parser.add_argument("--web-port", type=int, default=8089)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.run.ui import main

    main(args.arch, args.port, args.web_port)
