"""The update plan of a bench run: which ways of deploying a new model version, on which stacks.

An update run is the steady open-loop load during which a new version of the model bundle (same
schema, other weights, another version string) is deployed the way each architecture would:

- monolith `restart`: the one app stopped gracefully and started again on the new bundle;
- monolith `rolling`: the app with `workers` uvicorn workers sharing its port, reloaded with
  SIGHUP (uvicorn starts a new worker, waits until it is ready, retires an old one, in turn);
- micro `restart`: only `score` restarted (its preprocessing is the old version's, so `features`
  keeps running: pipeline.stages.score names both versions in an answer if it were not);
- micro `rolling`: `replicas` replicas of `score`, restarted one after the other, the gateway
  sending a refused call on to the other replica (serving.settings.Settings.retry_refused).

Every request is recorded (bench.measure.ledger) and the deploy's steps (events.json), so every
figure (bench.analyse.update) is recomputed from the raw files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SCENARIO = "update"
# each update run's per-request record (bench.measure.ledger), beside its events.json
REQUESTS_FILE = "requests.json"
VARIANTS = ("restart", "rolling")
# The gateway of update runs: the everyday one, plus a refused call tried on the next replica.
GATEWAY: dict[str, object] = {"retry_refused": True}


@dataclass(frozen=True)
class UpdateConfig:
    """The update runs' timeline: warm-up, load before the deploy, load after it. The load
    stops `tail_s` after the deploy is done, at the latest `max_s` into the measured part."""

    variants: tuple[str, ...] = VARIANTS
    warmup_s: float = 1.0
    lead_s: float = 1.5
    tail_s: float = 2.5
    max_s: float = 60.0
    # worker processes of the monolith, replicas of score, in the rolling variants
    workers: int = 2
    # as in fault runs: a stalled server, not the generator, must decide what fails
    max_in_flight: int = 1024

    def check(self) -> list[str]:
        """What is wrong, as one-line messages naming the flag."""
        wrong = [
            f"unknown update {v!r}; choose from: {', '.join(VARIANTS)}"
            for v in self.variants
            if v not in VARIANTS
        ]
        if not 0 < self.lead_s < self.max_s or self.tail_s <= 0:
            wrong.append(
                f"the update's lead ({self.lead_s:g} s) and tail ({self.tail_s:g} s) must be "
                f"greater than 0 and within {self.max_s:g} s"
            )
        return wrong


@dataclass(frozen=True)
class UpdateRun:
    """One way of deploying the new version on one architecture."""

    arch: str
    variant: str
    workers: int
    rep: int = 0

    @property
    def key(self) -> str:
        return f"{SCENARIO}/{self.arch}/{self.variant}/rep{self.rep}"

    @property
    def replicas(self) -> dict[str, int]:
        """The stack's replicas: the rolling variants need more than one of what they roll."""
        if self.variant != "rolling":
            return {}
        return {"monolith" if self.arch == "monolith" else "score": self.workers}

    @property
    def services(self) -> tuple[str, ...]:
        """What is restarted, in order (the monolith's workers by its supervisor)."""
        if self.arch == "monolith":
            return ("monolith",)
        if self.variant == "rolling":
            return ("score", *(f"score-{r}" for r in range(2, self.workers + 1)))
        return ("score",)


def plan(config: UpdateConfig, archs: Sequence[str]) -> list[UpdateRun]:
    """The update runs of a bench: every variant on every architecture."""
    return [UpdateRun(arch, v, config.workers) for arch in archs for v in config.variants]


# What a deploy takes on a quiet machine, for the progress bar: a restart 1.5-2 s, a rolling
# update of two about twice that.
TYPICAL_DEPLOY_S = 3.0


def planned_seconds(config: UpdateConfig) -> float:
    """How long an update run drives load, typically."""
    return config.warmup_s + config.lead_s + TYPICAL_DEPLOY_S + config.tail_s


def longest_seconds(config: UpdateConfig) -> float:
    return config.warmup_s + config.max_s
