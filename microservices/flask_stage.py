"""Entry point: `python -m microservices.flask_stage STAGE [--port N]` serves one stage with
Flask under gunicorn (gthread workers keep connections alive, as the gateway's pool expects)."""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from microservices.stage_app import input_decoder, load_for, run_stage, with_wait
from pipeline.stages import STAGE_NAMES, Stage, stage
from serving import admin, tls
from serving.asgi import Reply
from serving.faults import Faults
from serving.settings import Settings
from serving.wsgi import create_app


def build(stage: Stage, settings: Settings) -> Flask:
    """Assemble the Flask service for one stage; the model loads before serving."""
    model = load_for(stage, settings)
    decode = input_decoder(stage)
    faults = Faults((stage.name,))

    def handle(body: bytes) -> Reply:
        if faults.active:
            waited_s = faults.enter_blocking(stage.name)
            return with_wait(run_stage(stage, model, body, decode), waited_s)
        return run_stage(stage, model, body, decode)

    def ready() -> tuple[bool, dict[str, Any]]:
        return True, {"stage": stage.name}

    routes = {"/" + stage.name: handle}
    limit = settings.max_internal_body_bytes
    return create_app(stage.name, routes, ready, limit, settings, faults)


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
    binds = [f"{settings.host}:{settings.port}"]
    if admin.enabled(settings):
        binds.append(f"{admin.LOOPBACK}:{settings.admin_port}")
    options = {
        "bind": binds,
        "workers": 1,
        "worker_class": "gthread",
        "threads": 4,
        "keepalive": 75,
        "accesslog": None,
        "loglevel": "warning",
        **tls.gunicorn_options(settings),
    }
    _Gunicorn(app, options).run()


if __name__ == "__main__":
    main()
