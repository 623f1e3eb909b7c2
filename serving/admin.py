"""The admin endpoint of every serving process: fault toggles, reachable on loopback only, behind
a bearer token.

A process with an admin port and a token listens on a second socket bound to 127.0.0.1 (whatever
address its public listener has, so not even a container's published port reaches it), and the
admin route answers only requests that came in on that socket: on the public listener it does not
exist (404). A request also needs `authorization: Bearer <token>` with the token the runner made
for its stack, compared in constant time; otherwise 401. Without a token there is no listener.

    GET    /admin/faults   the faults now
    PUT    /admin/faults   body serving.faults.FaultSpec: set one stage's faults
    DELETE /admin/faults   clear every fault
"""

from __future__ import annotations

import hmac
import re
import socket

import msgspec

from pipeline.records import Problem
from serving import errors
from serving.errors import HTTPError, InvalidFault, MethodNotAllowed, Unauthorized
from serving.faults import Faults, FaultSpec
from serving.settings import Settings

PATH = "/admin/faults"
METHODS = ("GET", "PUT", "DELETE")
# Routed so that the public listener answers 404 to every method, not 405 to some.
ROUTED = (*METHODS, "POST", "PATCH")
LOOPBACK = "127.0.0.1"
_decode_spec = msgspec.json.Decoder(FaultSpec).decode


def enabled(settings: Settings) -> bool:
    return bool(settings.admin_port and settings.admin_token)


def listener(port: int) -> socket.socket:
    """The admin socket: bound to loopback only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    return sock


def authorized(header: str | None, token: str) -> bool:
    """Whether an authorization header carries the bearer token (constant-time comparison)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def handle(
    method: str,
    body: bytes,
    headers: dict[str, str],
    faults: Faults,
    token: str,
) -> tuple[int, bytes]:
    """Answer one admin request that arrived on the admin socket: (status, JSON body).
    `headers` are the request's, with lower-case names."""
    try:
        if not authorized(headers.get("authorization"), token):
            raise Unauthorized("admin requests need the header `authorization: Bearer <token>`")
        if method == "PUT":
            errors.check_content_type(headers.get("content-type"))
            faults.set(_spec(body))
        elif method == "DELETE":
            faults.clear()
        elif method != "GET":
            raise MethodNotAllowed(f"method {method} is not allowed on {PATH}")
    except HTTPError as exc:
        return errors.to_response(exc)
    return 200, msgspec.json.encode(faults.as_dict())


def _spec(body: bytes) -> FaultSpec:
    try:
        return _decode_spec(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        # msgspec names the field as "at `$.field`" or "field `field`"
        named = re.search(r"at `\$\.(\w+)`|field `(\w+)`", message)
        field = next((g for g in named.groups() if g), "body") if named else "body"
        raise InvalidFault("the fault is not valid", problems=[Problem(field, message)]) from None
    except msgspec.DecodeError as exc:
        raise InvalidFault("the body is not JSON", problems=[Problem("body", str(exc))]) from None
