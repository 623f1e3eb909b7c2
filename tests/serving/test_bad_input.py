"""Every class of bad input, on every architecture started for real: a 4xx whose body names the
field or the limit, byte-identical between the monolith, micro and micro-flask; and a body far
over the limit answered 413 while the client is still sending it."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from pipeline.document import MAX_DEPTH
from serving.protocol import DISCARD_LIMIT_BYTES
from stack.runner import Stack
from tests.conftest import comparable, request
from tests.serving.test_parity import GOOD

JSON = "application/json"
RECORD = json.dumps(GOOD).encode()


def _with(field: str, literal: str) -> bytes:
    """GOOD with one field's value replaced by a raw JSON literal."""
    return json.dumps({**GOOD, field: "@"}).encode().replace(b'"@"', literal.encode())


# (name, body, content type, status, what the answer must name)
CASES: list[tuple[str, bytes, str | None, int, str]] = [
    (
        "invalid UTF-8 in a value",
        RECORD.replace(b"Dream", b"Dr\xffeam"),
        JSON,
        400,
        "0xff at offset 14",
    ),
    ("invalid UTF-8 in a key", b'{"isl\xe9nd": "Dream"}', JSON, 400, "byte 0xe9 at offset 5"),
    ("UTF-8 encoded surrogate", b'{"island": "\xed\xa0\x80"}', JSON, 400, "not valid UTF-8"),
    ("UTF-16 body", RECORD.decode().encode("utf-16"), JSON, 400, "UTF-16 or UTF-32"),
    ("UTF-16 body without a BOM", RECORD.decode().encode("utf-16-le"), JSON, 400, "UTF-16"),
    ("lone surrogate escape", _with("island", '"\\ud800"'), JSON, 400, "surrogate pair"),
    ("lone surrogate, last", b'{"island": "\\ud800"}', JSON, 400, "lone UTF-16 surrogate"),
    ("deep arrays", b"[" * 100_000, JSON, 400, f"more than {MAX_DEPTH} levels deep"),
    ("deep objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON, 400, f"{MAX_DEPTH} levels"),
    ("deep, decodable", b"[" * 200 + b"]" * 200, JSON, 400, f"{MAX_DEPTH} levels"),
    ("deep inside a record", _with("island", "[" * 40 + "]" * 40), JSON, 400, "levels deep"),
    ("nested value", _with("island", "[[1]]"), JSON, 422, "island"),
    ("empty body", b"", JSON, 400, "it is empty"),
    ("white space body", b" \n", JSON, 400, "it is empty"),
    ("NaN literal", _with("bill_length_mm", "NaN"), JSON, 400, "not valid JSON"),
    ("Infinity literal", _with("bill_length_mm", "-Infinity"), JSON, 400, "not valid JSON"),
    ("number beyond a float", _with("bill_length_mm", "1e400"), JSON, 422, "bill_length_mm"),
    ("negative beyond a float", _with("body_mass_g", "-1e999"), JSON, 422, "body_mass_g"),
    ("huge integer", _with("body_mass_g", "9" * 4000), JSON, 422, "body_mass_g"),
    ("integer past the digits", _with("body_mass_g", "9" * 5000), JSON, 400, "4300 digits"),
    ("huge string", _with("island", json.dumps("D" * 900_000)), JSON, 422, "island"),
    ("huge unknown key", json.dumps({**GOOD, "k" * 100_000: 1}).encode(), JSON, 422, "k…"),
    ("empty key", json.dumps({**GOOD, "": 1}).encode(), JSON, 422, '"\\"\\""'),
    ("escaped key", json.dumps({**GOOD, "\u00e9\n\u0000": 1}).encode(), JSON, 422, "\\u0000"),
    ("duplicate key, last wins", RECORD[:-1] + b', "island": "Atlantis"}', JSON, 422, "island"),
    ("too many records", json.dumps({"records": [GOOD] * 1025}).encode(), JSON, 422, "1024"),
    ("many empty records", b'{"records": [' + b"{}," * 300_000 + b"{}]}", JSON, 422, "1024"),
    ("charset latin-1", RECORD, f"{JSON}; charset=latin-1", 415, "'latin-1'"),
    ("no content type", RECORD, None, 415, "no content type"),
    ("wrong content type", RECORD, "text/json", 415, "'text/json'"),
]
# Accepted as they stand: each answers as the plain record does.
ACCEPTED: list[tuple[str, bytes, str | None]] = [
    ("charset utf-8", RECORD, f"{JSON}; charset=utf-8"),
    ("charset quoted, upper case", RECORD, 'Application/JSON; Charset="UTF-8"'),
    ("UTF-8 byte order mark", b"\xef\xbb\xbf" + RECORD, JSON),
    ("duplicate key, last valid", RECORD[:-1] + b', "island": "Dream"}', JSON),
    ("deep as allowed", json.dumps({"records": [GOOD]}).encode(), JSON),
]


@pytest.fixture(scope="module")
def stacks(monolith: Stack, micro: Stack, micro_flask: Stack) -> list[Stack]:
    return [monolith, micro, micro_flask]


@pytest.mark.parametrize("path", ["/predict", "/validate"])
@pytest.mark.parametrize(
    ("name", "body", "content_type", "status", "named"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_named_4xx_alike_everywhere(
    stacks: list[Stack],
    path: str,
    name: str,
    body: bytes,
    content_type: str | None,
    status: int,
    named: str,
) -> None:
    got = [request(s.url, path, body, content_type) for s in stacks]
    assert got[0].status == status, got[0].body[:300]
    assert named in got[0].body.decode(), got[0].body[:300]
    assert len(got[0].body) < 20_000  # the answer never echoes a huge input back
    for stack, answer in zip(stacks[1:], got[1:], strict=True):
        assert comparable(answer) == comparable(got[0]), stack.arch


@pytest.mark.parametrize(("name", "body", "content_type"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_tolerated_input_is_answered_as_the_plain_record(
    stacks: list[Stack], name: str, body: bytes, content_type: str | None
) -> None:
    plain = request(stacks[0].url, "/predict", RECORD).body
    for stack in stacks:
        answer = request(stack.url, "/predict", body, content_type)
        assert answer.status == 200, (stack.arch, answer.body)
        predictions = json.loads(answer.body)["predictions"]
        assert predictions == json.loads(plain)["predictions"][: len(predictions)], stack.arch


def _send_big(url: str, total_bytes: int, chunked: bool) -> tuple[bytes, int]:
    """POST `total_bytes` of body on a raw socket while reading the answer: what was read
    until the server closed (or 10 s passed), and how much of the body got sent."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    framing = "transfer-encoding: chunked" if chunked else f"content-length: {total_bytes}"
    head = f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: {JSON}\r\n{framing}\r\n\r\n"
    sent = [0]

    def send() -> None:
        piece = b"[" * 65536
        frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        try:
            sock.sendall(head.encode())
            while sent[0] < total_bytes:
                sock.sendall(frame)
                sent[0] += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server closed: what was sent is counted
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except OSError:
        pass
    sender.join(timeout=30)
    sock.close()
    return received, sent[0]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_far_over_the_limit_gets_its_413_while_sending(
    stacks: list[Stack], chunked: bool
) -> None:
    for stack in stacks[:2]:  # the public entries: the monolith and the gateway
        received, _ = _send_big(stack.url, 8 << 20, chunked)
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 "), (stack.arch, received[:200])
        answer = json.loads(body)
        assert answer["error"] == "payload_too_large" and "1048576 bytes" in answer["message"]


def test_a_body_past_the_discard_bound_is_cut_off(monolith: Stack) -> None:
    """A client that never stops sending gets its 413, then the connection closed."""
    received, sent = _send_big(monolith.url, DISCARD_LIMIT_BYTES * 4, chunked=False)
    assert received.startswith(b"HTTP/1.1 413 ")
    assert sent < DISCARD_LIMIT_BYTES * 4


@pytest.mark.parametrize(
    "body",
    [b'{"records": ["\xff"]}', b"[" * 50_000, b'{"rows": [[' + b"9" * 5000 + b"]]}"],
    ids=["utf-8", "deep", "digits"],
)
def test_a_stage_called_with_a_bad_body_answers_400(
    micro: Stack, micro_flask: Stack, body: bytes
) -> None:
    """Each stage service, FastAPI or Flask, is a server too: a body it cannot decode is the
    caller's 400 naming its input type, never a 500 the gateway would relay as a 502."""
    for stack in (micro, micro_flask):
        for stage in ("ingest", "validate", "features", "score"):
            service = stack.service(stage)
            answer = request(f"http://127.0.0.1:{service.port}", f"/{stage}", body)
            assert answer.status in (400, 422), (stack.arch, stage, answer.body[:200])
            assert json.loads(answer.body)["error"] in ("malformed_json", "invalid_records")
