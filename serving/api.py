"""The public API both architectures expose: each route runs the stages up to one, then renders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.records import Predictions, ValidationReport, report
from pipeline.stages import Stage, through


@dataclass(frozen=True)
class Endpoint:
    """A public POST route: the last stage it runs, how that stage's output becomes the body, the
    body's type, and what the route is for (both for the API's own description)."""

    path: str
    last_stage: str
    render: Callable[[Any], Any]
    answer: type
    summary: str

    @property
    def stages(self) -> tuple[Stage, ...]:
        return through(self.last_stage)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "/predict",
        "score",
        lambda predictions: predictions,
        Predictions,
        "The model's answer to each record",
    ),
    # Needs no model: it keeps serving while scoring is down.
    Endpoint(
        "/validate",
        "validate",
        report,
        ValidationReport,
        "The records are valid (checked, not scored)",
    ),
)
