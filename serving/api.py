"""The public API both architectures expose: each route runs the stages up to one, then renders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.records import report
from pipeline.stages import Stage, through


@dataclass(frozen=True)
class Endpoint:
    """A public POST route: the last stage it runs and how that stage's output becomes the body."""

    path: str
    last_stage: str
    render: Callable[[Any], Any]

    @property
    def stages(self) -> tuple[Stage, ...]:
        return through(self.last_stage)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/predict", "score", lambda predictions: predictions),
    # Needs no model: it keeps serving while scoring is down.
    Endpoint("/validate", "validate", report),
)
