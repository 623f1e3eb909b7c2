"""The request body's JSON parsing: every unreadable body named, the same whatever the stack depth
of the process parsing it."""

from __future__ import annotations

import sys

import pytest

from pipeline.document import MAX_DEPTH, depth, parse
from pipeline.errors import MalformedBody
from pipeline.schema import SHOWN_KEY_LENGTH, shown_key


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"a": "\xff"}', "byte 0xff at offset 7"),
        (b"\xff\xfe{\x00}\x00", "UTF-16 or UTF-32"),
        (b"{\x00}\x00", "UTF-16 or UTF-32"),
        (b"", "it is empty"),
        (b"\t\r\n ", "it is empty"),
        (b"[" * 50_000, f"more than {MAX_DEPTH} levels deep"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels deep"),
        (b'{"a": ' + b"1" * 4301 + b"}", "more than 4300 digits"),
        (b'{"a": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"a": 1e400, "b": "\xff"}', "byte 0xff at offset 19"),
        (b'{"a": 1e400, "b": ' + b"[" * 5000, "levels deep"),
        (b'{"a": 1e400, "b": }', "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
    ],
)
def test_an_unreadable_body_is_named(body: bytes, said: str) -> None:
    with pytest.raises(MalformedBody, match=said):
        parse(body)


def test_depth_is_refused_alike_at_any_stack_depth() -> None:
    """Past the limit, a body is refused by name whether or not msgspec ran out of stack: the
    answer cannot depend on how deep the parsing process's own call stack happens to be."""
    body = b"[" * 900 + b"]" * 900

    def nested(levels: int) -> str:
        if levels:
            return nested(levels - 1)
        with pytest.raises(MalformedBody) as caught:
            parse(body)
        return str(caught.value)

    shallow, deep = nested(0), nested(sys.getrecursionlimit() - 200)
    assert shallow == deep == f"body nests arrays and objects more than {MAX_DEPTH} levels deep"


def test_what_can_be_read_is_read() -> None:
    assert parse(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert parse(b'{"a": 1e400, "b": -1e400}') == {
        "a": sys.float_info.max,
        "b": -sys.float_info.max,
    }
    assert parse(b'{"a": 1, "a": 2}') == {"a": 2}
    allowed = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert depth(parse(allowed)) == MAX_DEPTH
    assert depth(3) == 0 and depth({"records": [{"a": 1}]}) == 3


def test_unknown_keys_are_shown_short() -> None:
    assert shown_key("") == '""'
    assert shown_key("k" * 1000) == "k" * SHOWN_KEY_LENGTH + "…"
    assert shown_key("wing span") == "wing span"
