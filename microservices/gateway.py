"""Entry point: `python -m microservices.gateway [--port N]`; stage URLs: ARCHBENCH_<STAGE>_URL."""

import argparse

from microservices.gateway_app import build
from serving.asgi import serve
from serving.settings import Settings

parser = argparse.ArgumentParser(prog="python -m microservices.gateway")
parser.add_argument("--port", type=int)
args = parser.parse_args()
settings = Settings.from_env(port=args.port)
serve(build(settings), settings)
