"""W3C trace context on real stacks: a traceparent sent to the entry arrives unchanged at every
stage and is in every service's access line; absent or malformed, a new one is started (never an
error); error bodies name the trace-id and the stage."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from serving import trace
from stack.runner import LOG_ROTATE_BYTES, Stack, rotate
from tests.conftest import free_base_port, request
from tests.serving.test_parity import GOOD as RECORD

BODY = json.dumps(RECORD).encode()
# An access line is written just after the service's answer left: wait for it at most this long.
LOG_WAIT_S = 10.0
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
MALFORMED = [
    "garbage",
    "",
    f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",  # the specification wants lower-case hex
    f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace-id
    f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent-id
    f"ff-{TRACE_ID}-00f067aa0ba902b7-01",  # version ff is forbidden
    f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra",  # version 00 has exactly four fields
    f"00-{TRACE_ID}-00f067aa0ba902b7",
    f"00_{TRACE_ID}_00f067aa0ba902b7_01",
]


def traceparent(n: int) -> str:
    """A distinct well-formed traceparent per test (the logs of a session's stacks are shared)."""
    return f"00-{TRACE_ID[:-4]}{n:04x}-00f067aa0ba902b7-01"


def access_lines(stack: Stack, needle: str) -> dict[str, list[str]]:
    """Per service of the stack, its access lines that contain `needle`, waiting (bounded) for
    every service to have at least one."""
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        found = {s.name: _lines(stack.log_path(s.name), needle) for s in stack.services}
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _lines(path: Path, needle: str) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(errors="replace")
    return [line for line in text.splitlines() if " access " in line and needle in line]


def fields(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", line))


@pytest.fixture(scope="module")
def stacks(monolith: Stack, micro: Stack, micro_flask: Stack) -> list[Stack]:
    return [monolith, micro, micro_flask]


def test_well_formed_and_malformed_values() -> None:
    assert trace.valid(traceparent(0))
    # a later version parses as 00's first four fields and may carry more
    assert trace.valid(f"cc-{TRACE_ID}-00f067aa0ba902b7-09-more-fields")
    for value in MALFORMED:
        assert not trace.valid(value), value
    fresh = {trace.new() for _ in range(100)}
    assert len(fresh) == 100 and all(trace.valid(v) for v in fresh)


def test_a_sent_traceparent_arrives_unchanged_at_every_stage(stacks: list[Stack]) -> None:
    for n, stack in enumerate(stacks):
        sent = traceparent(n + 1)
        answer = request(stack.url, "/predict", BODY, headers={"traceparent": sent})
        assert answer.status == 200 and answer.headers["traceparent"] == sent, stack.arch
        found = access_lines(stack, sent)
        # monolith: one process, one line; micro: the gateway and each of the four stages
        assert sorted(found) == sorted(s.name for s in stack.services)
        for name, lines in found.items():
            assert len(lines) == 1, (stack.arch, name, lines)
            line = fields(lines[0])
            path = "/predict" if name in ("monolith", "gateway") else f"/{name}"
            assert (line["stage"], line["path"], line["traceparent"], line["status"]) == (
                name,
                path,
                sent,
                "200",
            ), stack.arch
            assert float(line["duration_ms"]) >= 0


def test_without_a_traceparent_the_entry_starts_one_every_stage_shares(
    stacks: list[Stack],
) -> None:
    for stack in stacks:
        answer = request(stack.url, "/predict", BODY)
        started = answer.headers["traceparent"]
        assert answer.status == 200 and trace.valid(started) and started.startswith("00-")
        found = access_lines(stack, trace.trace_id(started))
        assert all(len(lines) == 1 for lines in found.values()), found
        assert {fields(lines[0])["traceparent"] for lines in found.values()} == {started}


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_traceparent_starts_a_new_trace_not_an_error(micro: Stack, value: str) -> None:
    answer = request(micro.url, "/predict", BODY, headers={"traceparent": value})
    assert answer.status == 200, answer.body
    started = answer.headers["traceparent"]
    assert trace.valid(started) and started != value
    found = access_lines(micro, started)
    assert all(len(lines) == 1 for lines in found.values()), found


def test_a_later_version_is_forwarded_as_sent(micro: Stack) -> None:
    sent = f"cc-{TRACE_ID[:-4]}beef-00f067aa0ba902b7-01-future"
    answer = request(micro.url, "/predict", BODY, headers={"traceparent": sent})
    assert answer.status == 200 and answer.headers["traceparent"] == sent
    assert all(len(lines) == 1 for lines in access_lines(micro, sent).values())


def test_an_error_body_names_the_trace_id_and_the_stage(stacks: list[Stack]) -> None:
    bad = json.dumps({**RECORD, "island": "Atlantis"}).encode()
    for n, stack in enumerate(stacks):
        sent = traceparent(100 + n)
        answer = request(stack.url, "/predict", bad, headers={"traceparent": sent})
        body = json.loads(answer.body)
        assert answer.status == 422 and answer.headers["traceparent"] == sent, stack.arch
        # the stage whose code refused the record, alike in every architecture
        assert (body["trace_id"], body["stage"]) == (trace.trace_id(sent), "validate")
        # and that stage's log has the failed request's line
        service = "monolith" if stack.arch == "monolith" else "validate"
        line = fields(access_lines(stack, sent)[service][0])
        assert line["status"] == "422", stack.arch
        # an error before any stage names the process that answered it
        answer = request(stack.url, "/predict", BODY, "text/plain", headers={"traceparent": sent})
        body = json.loads(answer.body)
        entry = "monolith" if stack.arch == "monolith" else "gateway"
        assert answer.status == 415 and (body["trace_id"], body["stage"]) == (
            trace.trace_id(sent),
            entry,
        )


def test_with_tracing_off_nothing_is_logged_or_forwarded(tmp_path: Path, model_dir: Path) -> None:
    sent = traceparent(200)
    with Stack("micro", free_base_port(), log_dir=tmp_path, settings={"trace": False}) as stack:
        answer = request(stack.url, "/predict", BODY, headers={"traceparent": sent})
        assert answer.status == 200 and "traceparent" not in answer.headers
        bad = request(stack.url, "/predict", b"{", headers={"traceparent": sent})
        assert bad.status == 400 and "trace_id" not in json.loads(bad.body)
    assert not any(_lines(stack.log_path(s.name), " access ") for s in stack.services)


def test_a_log_past_its_bound_is_moved_aside_when_its_service_starts(tmp_path: Path) -> None:
    small, big = tmp_path / "score.log", tmp_path / "gateway.log"
    small.write_text("kept\n")
    with big.open("wb") as out:
        out.truncate(LOG_ROTATE_BYTES + 1)
    for log in (small, big, tmp_path / "missing.log"):
        rotate(log)
    assert small.read_text() == "kept\n" and not big.exists()
    assert (tmp_path / "gateway.log.1").stat().st_size == LOG_ROTATE_BYTES + 1
