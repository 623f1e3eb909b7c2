"""Both architectures fuzzed from their own published /openapi.json with schemathesis: valid and
invalid requests, none answered with a 5xx, every answer as the document says, invalid data
refused with a 4xx, valid data accepted; and the same generated requests get the same answers.

Seeded and bounded: hypothesis derandomized (the same cases on every run), a fixed number of
examples per generation mode, no example database, no shrinking time limit to wait on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from serving import trace
from stack.runner import Stack

# Per architecture: POSITIVE + NEGATIVE examples, each spread over the document's operations.
EXAMPLES = {GenerationMode.POSITIVE: 400, GenerationMode.NEGATIVE: 600}
PARITY_EXAMPLES = 300
# A hard bound on each test's time (it takes a third of it here), whatever the machine's load.
FUZZ_TIMEOUT_S = 180
# What the document promises: no 5xx, answers conform to it, invalid data refused with a 4xx,
# valid data accepted, only documented statuses and content types.
CHECKS: list[Callable[..., object]] = [
    not_a_server_error,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
    content_type_conformance,
]


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _fuzz(stack: Stack, mode: GenerationMode, session: requests.Session) -> list[int]:
    """Run the mode's examples against the stack, checking each answer; return the statuses."""
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json", timeout=10)
    statuses: list[int] = []

    @_settings(EXAMPLES[mode])
    @given(case=schema.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        response = case.call_and_validate(
            base_url=stack.url, session=session, checks=CHECKS, timeout=10
        )
        statuses.append(response.status_code)

    run()
    return statuses


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
@pytest.mark.parametrize("arch", ["monolith", "micro"])
def test_fuzz_from_the_published_schema(
    arch: str, mode: GenerationMode, request: pytest.FixtureRequest, session: requests.Session
) -> None:
    stack: Stack = request.getfixturevalue(arch)
    statuses = _fuzz(stack, mode, session)
    assert len(statuses) >= EXAMPLES[mode]
    # The fuzz reached the model and its refusals, not just the GET routes.
    expected = {200} if mode == GenerationMode.POSITIVE else {400, 422}
    assert expected <= set(statuses), sorted(set(statuses))


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
def test_fuzz_parity(monolith: Stack, micro: Stack, session: requests.Session) -> None:
    """The same generated requests, valid and invalid, get the same status and body from both."""
    schema = schemathesis.openapi.from_url(f"{monolith.url}/openapi.json", timeout=10)
    posts = schema.include(method="POST")
    strategy = posts.as_strategy(GenerationMode.POSITIVE) | posts.as_strategy(
        GenerationMode.NEGATIVE
    )
    sent: list[int] = []

    @_settings(PARITY_EXAMPLES)
    @given(case=strategy)
    def run(case: Case) -> None:
        # One trace for both: an error body names it. The entry answering an error no stage
        # raised is the one difference by design (tests.conftest.comparable).
        headers = {trace.HEADER: trace.new()}
        one = case.call(base_url=monolith.url, session=session, timeout=10, headers=headers)
        other = case.call(base_url=micro.url, session=session, timeout=10, headers=headers)
        sent.append(one.status_code)
        entry = other.content.replace(b'"stage":"gateway"', b'"stage":"monolith"')
        assert (other.status_code, entry) == (one.status_code, one.content), case.as_curl_command()

    run()
    assert len(sent) >= PARITY_EXAMPLES
    assert {200, 422} <= set(sent), "the fuzz reached neither valid nor invalid records"
