"""Entry point: `python -m microservices.flask_stage STAGE [--port N]` serves one stage with
Flask under gunicorn (gthread workers keep connections alive, as the gateway's pool expects)."""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from microservices.stage_app import input_decoder, load_for, run_stage
from pipeline.stages import STAGE_NAMES, Stage, stage
from serving.asgi import Reply
from serving.settings import Settings
from serving.wsgi import create_app


def build(stage: Stage, settings: Settings) -> Flask:
    """Assemble the Flask service for one stage; the model loads before serving."""
    model = load_for(stage, settings)
    decode = input_decoder(stage)

    def handle(body: bytes) -> Reply:
        return run_stage(stage, model, body, decode)

    def ready() -> tuple[bool, dict[str, Any]]:
        return True, {"stage": stage.name}

    routes = {"/" + stage.name: handle}
    return create_app(stage.name, routes, ready, settings.max_internal_body_bytes)


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app, self._options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m microservices.flask_stage")
    parser.add_argument("stage", choices=STAGE_NAMES)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    settings = Settings.from_env(port=args.port)
    app = build(stage(args.stage), settings)
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": 4,
        "keepalive": 75,
        "accesslog": None,
        "loglevel": "warning",
    }
    _Gunicorn(app, options).run()


if __name__ == "__main__":
    main()
