"""Secured hops in the web glue: the TLS options of a stage's server (uvicorn or gunicorn), which
refuse a client without a certificate from the stack's CA, and the gateway's client context,
which presents its certificate and verifies the stage's."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from serving.settings import Settings


def _files(settings: Settings) -> tuple[Path, Path, Path]:
    cert, key, ca = settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file
    assert cert is not None and key is not None and ca is not None  # Settings checks this
    return cert, key, ca


# The same four options under each server's own names: cert, key, CA, client certificate rule.
_UVICORN = ("ssl_certfile", "ssl_keyfile", "ssl_ca_certs", "ssl_cert_reqs")
_GUNICORN = ("certfile", "keyfile", "ca_certs", "cert_reqs")


def _server_options(settings: Settings, names: tuple[str, ...]) -> dict[str, Any]:
    if not settings.secure_hops:
        return {}
    cert, key, ca = _files(settings)
    return dict(zip(names, (str(cert), str(key), str(ca), ssl.CERT_REQUIRED), strict=True))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keywords for a stage: TLS on its listeners, a client certificate required;
    nothing with secured hops off."""
    return _server_options(settings, _UVICORN)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """The same for gunicorn (the Flask stage of micro-flask)."""
    return _server_options(settings, _GUNICORN)


def client_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """A client context that presents (cert, key) and verifies the server against the CA only."""
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def gateway_context(settings: Settings) -> ssl.SSLContext | None:
    """The gateway's context for its stage calls; None with secured hops off (plain HTTP)."""
    if not settings.secure_hops:
        return None
    return client_context(*_files(settings))
