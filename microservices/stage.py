"""Entry point: `python -m microservices.stage STAGE [--port N]` serves one stage with FastAPI."""

import argparse

from microservices.stage_app import build
from pipeline.stages import STAGE_NAMES, stage
from serving.asgi import serve
from serving.settings import Settings

parser = argparse.ArgumentParser(prog="python -m microservices.stage")
parser.add_argument("stage", choices=STAGE_NAMES)
parser.add_argument("--port", type=int)
args = parser.parse_args()
settings = Settings.from_env(port=args.port)
serve(build(stage(args.stage), settings), settings, tls_server=True)
