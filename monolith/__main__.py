"""Entry point: `python -m monolith [--port N]`."""

import argparse

from monolith.app import build
from serving.asgi import serve
from serving.settings import Settings

parser = argparse.ArgumentParser(prog="python -m monolith")
parser.add_argument("--port", type=int)
args = parser.parse_args()
settings = Settings.from_env(port=args.port)
serve(build(settings), settings)
