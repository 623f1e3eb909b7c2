"""Entry point: `python -m monolith [--port N] [--workers W]`."""

import argparse

from monolith.app import build
from serving.asgi import serve
from serving.settings import Settings

parser = argparse.ArgumentParser(prog="python -m monolith")
parser.add_argument("--port", type=int)
parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port")
args = parser.parse_args()
settings = Settings.from_env(port=args.port)
if args.workers > 1:
    serve("monolith.app:worker", settings, workers=args.workers)
else:
    serve(build(settings), settings)
