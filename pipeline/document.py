"""The request body as a JSON document: parsed once, every way it can be unreadable named.

What is accepted, deliberately (RFC 8259 leaves these to the parser):
- UTF-8 only; a leading UTF-8 byte order mark is ignored (the RFC allows a parser to), a UTF-16
  or UTF-32 body is refused by name, and an invalid byte is named with its position;
- numbers JSON text can write but a float cannot hold (1e400) are read as the largest float of
  their sign, so `validate` names the field as out of its range; an integer of more than
  MAX_DIGITS digits is refused by name; the NaN and Infinity literals are not JSON: refused;
- arrays and objects nested at most MAX_DEPTH deep (a batch needs 3): deeper is refused by name
  before it can exhaust the interpreter's stack in any process that decodes it;
- duplicate keys: the last one wins, as in most parsers.

The fast path is msgspec's decoder alone; the diagnosis runs only on a body it refused.
"""

from __future__ import annotations

import codecs
import re
import sys
from typing import Any

import msgspec

from pipeline.errors import MalformedBody

MAX_DEPTH = 32
# Python's own limit on the digits of an integer read from text (sys.int_info).
MAX_DIGITS = 4300
_decode = msgspec.json.Decoder().decode
# msgspec calls a high surrogate escape without its low half "truncated" input.
_LONE_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _clamped(literal: str) -> float:
    """A float literal, beyond the float range read as the largest float of its sign."""
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        return sys.float_info.max if number > 0 else -sys.float_info.max
    return number


_decode_clamped = msgspec.json.Decoder(float_hook=_clamped).decode


def parse(body: bytes) -> Any:
    """The JSON document in `body`; MalformedBody naming what makes it unreadable."""
    try:
        document = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        document = _diagnose(body, exc)
    # Only a body with more brackets than the limit can nest past it: the count runs in C.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and depth(document) > MAX_DEPTH:
        raise too_deep()
    return document


def _diagnose(body: bytes, error: Exception) -> Any:
    """Decode a body msgspec refused, where it can be read after all; else name why not."""
    if isinstance(error, RecursionError):
        raise too_deep()
    if isinstance(error, UnicodeDecodeError):
        raise not_utf8(body)
    message = str(error)
    if not body.strip():
        raise MalformedBody(
            'body is not valid JSON: it is empty; send one record or {"records": [...]}'
        )
    if body.startswith(codecs.BOM_UTF8):
        return parse(body[len(codecs.BOM_UTF8) :])
    if body.startswith(_WIDE_BOMS) or b"\x00" in body[:4]:
        raise MalformedBody("body is UTF-16 or UTF-32; send JSON in UTF-8")
    if message.startswith("Number out of range"):
        try:
            return _decode_clamped(body)
        except msgspec.DecodeError as exc:
            message = str(exc)
        except (UnicodeDecodeError, RecursionError) as exc:
            return _diagnose(body, exc)
    if message == "Input data was truncated" and _LONE_SURROGATE.search(body):
        raise MalformedBody("body holds a lone UTF-16 surrogate escape (\\ud800 to \\udfff)")
    if message.startswith("Integer value out of range"):
        raise MalformedBody(f"body holds an integer of more than {MAX_DIGITS} digits")
    raise MalformedBody(f"body is not valid JSON: {message}")


def depth(document: Any) -> int:
    """How deep arrays and objects nest in a decoded document (a scalar is 0); the walk stops
    once past MAX_DEPTH."""
    if not isinstance(document, dict | list):
        return 0
    deepest, pending = 1, [(document, 1)]
    while pending and deepest <= MAX_DEPTH:
        value, level = pending.pop()
        deepest = max(deepest, level)
        children = value.values() if isinstance(value, dict) else value
        pending.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return deepest


def too_deep() -> MalformedBody:
    return MalformedBody(f"body nests arrays and objects more than {MAX_DEPTH} levels deep")


def not_utf8(body: bytes) -> MalformedBody:
    """Name the first byte that is not UTF-8, by its offset in the body."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = body[exc.start]
        return MalformedBody(f"body is not valid UTF-8: byte 0x{byte:02x} at offset {exc.start}")
    return MalformedBody("body is not valid UTF-8")
