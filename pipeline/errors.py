"""The project's two error roots: the pipeline's tree, mapped to HTTP in one place by the web glue,
and the user-error tree, mapped to one line and exit code 1 in one place by the command line.

PipelineError
 ├── RequestError          the client's request cannot be processed (a 4xx)
 │    ├── MalformedBody     the body is not JSON
 │    └── InvalidRecords    records break the input schema; lists every problem
 └── BundleError           a model bundle is missing, tampered with, or of an unknown format

UserError                  a mistake the user can fix: one line, exit code 1 (archbench/cli.py)
 ├── BundleError           (above; also a PipelineError)
 ├── StackError            stack/runner.py: a stack could not start or lost a service
 ├── ComposeError          stack/compose.py: compose is missing or rejected a file
 ├── TargetError           stack/targets.py: a remote target is malformed or does not answer
 ├── ConfigError           bench/config.py: a configuration value is not valid
 │    └── PriceError        bench/analyse/cost.py: a price file is missing a key or invalid
 ├── ResultsError          bench/store/folder.py: a run folder cannot be written or read
 ├── CompareError          bench/analyse/compare.py: a --fail-on spec is not valid
 ├── PlanError             bench/analyse/plan.py: a run cannot be planned from
 └── LoadPerfError         bench/selfcheck/loadperf/result.py: the generator check cannot run

Bugs are none of these: they keep their tracebacks.
"""

from __future__ import annotations

from pipeline.records import Problem


class UserError(Exception):
    """Base of every mistake the user can fix; the command line prints it as one line, exit 1.

    `details()` may add lines the user needs to act on (a service log's tail, say)."""

    def details(self) -> str | None:
        return None


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class RequestError(PipelineError):
    """The client's request cannot be processed; the client must change it."""

    code = "bad_request"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class MalformedBody(RequestError):
    """The body could not be parsed as JSON."""

    code = "malformed_json"


class InvalidRecords(RequestError):
    """One or more records break the input schema."""

    code = "invalid_records"


class BundleError(PipelineError, UserError):
    """A model bundle cannot be loaded safely."""
