"""The fault plan of a bench run: which faults, on which stages, with which gateway settings.

A fault run is the steady open-loop scenario with one fault on one stage, from `lead_s` after the
measured start:

- crash: SIGKILL of the process group hosting the stage (the monolith: the app); the runner's
  restart policy starts it again; the fault lasts until the new process is ready.
- hang: SIGSTOP of that process group for `fault_s`, then SIGCONT.
- slow / errors: the stage waits `slow_ms` more, or fails `error_share` of its calls, for
  `fault_s`, toggled through the process's admin endpoint (serving/admin.py).
- leak: the process hosting the stage allocates `leak_mib_per_s` until its memory limit (its
  share of the budget: stack/budget.py) kills it; the fault lasts until it is ready again.

Microservices run with the gateway's resilience patterns off (no timeouts, no retries, no breaker,
no fallback, one shared pool of 100 connections) or on (RESILIENT_GATEWAY); the monolith has no
gateway, so only off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.stages import STAGE_NAMES
from stack.topology import hosting

SCENARIO = "faults"
FAULTS = ("crash", "hang", "slow", "errors", "leak")
PROFILES = ("default", "full")
# What `make bench` runs: a crash and a slowdown of the model stage, resilience off.
DEFAULT_FAULTS, DEFAULT_STAGES = ("crash", "slow"), ("score",)

# The gateway's settings in fault runs (serving.settings.Settings names), by resilience mode.
PLAIN_GATEWAY: Mapping[str, object] = {
    "stage_timeout_s": 0.0,
    "connect_timeout_s": 0.0,
    "pool_per_stage": 0,
    "retries": 0,
    "breaker": False,
    "fallback": False,
}
RESILIENT_GATEWAY: Mapping[str, object] = {
    # ~10x a stage's p99 under the bench's load; a connection comes within it or not at all
    "stage_timeout_s": 0.25,
    "connect_timeout_s": 0.1,
    # a bulkhead: no stage can hold more than a quarter of the gateway's 100 connections
    "pool_per_stage": 25,
    "retries": 1,
    "retry_budget": 0.2,
    "breaker": True,
    "breaker_failures": 5,
    "breaker_reset_s": 1.0,
    "fallback": True,
}


# On Docker in partition mode a restarted stage starts on its own 0.2 CPU in about 10 s: the
# measured tail after a fault must outlast that, or a crash reads as "the fault had not ended".
DOCKER_TAIL_S = 15.0


@dataclass(frozen=True)
class FaultConfig:
    """Which faults a bench run injects (None: the profile's choice) and their figures."""

    kinds: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None
    resilience: tuple[bool, ...] | None = None
    repeat: int = 1
    lead_s: float = 2.0
    fault_s: float = 4.0
    tail_s: float = 5.0
    # 3 s: at the bench's rate, more calls wait on a slow stage than the gateway has connections
    slow_ms: float = 3000.0
    error_share: float = 0.3
    # fast enough that even the monolith (the whole 2 GiB budget) dies within a short run
    leak_mib_per_s: float = 1024.0
    # Far above the steady in-flight count: a stalled stage must not make the generator shed
    # requests to the endpoints that do not need it.
    max_in_flight: int = 1024

    # A leak lasts until the memory limit kills the process: the monolith's limit (the whole
    # budget) takes ~6 s to fill here, so leak runs get this much longer.
    leak_extra_s: float = 6.0
    # What the gateway runs with in fault runs, resilience off and on (recorded in meta.json).
    plain_gateway: dict[str, object] = field(default_factory=lambda: dict(PLAIN_GATEWAY))
    resilient_gateway: dict[str, object] = field(default_factory=lambda: dict(RESILIENT_GATEWAY))

    def gateway(self, resilient: bool) -> dict[str, object]:
        """The serving settings of a fault-run stack in that resilience mode."""
        return dict(self.resilient_gateway if resilient else self.plain_gateway)

    @property
    def measured_s(self) -> float:
        return self.lead_s + self.fault_s + self.tail_s

    def measured_for(self, fault: str) -> float:
        """The measured seconds of one fault's run."""
        return self.measured_s + (self.leak_extra_s if fault == "leak" else 0.0)

    def check(self) -> list[str]:
        """What is wrong, as one-line messages naming the flag."""
        wrong = [
            f"unknown fault {k!r}; choose from: {', '.join(FAULTS)}"
            for k in self.kinds or ()
            if k not in FAULTS
        ]
        wrong += [
            f"unknown stage {s!r}; choose from: {', '.join(STAGE_NAMES)}"
            for s in self.stages or ()
            if s not in STAGE_NAMES
        ]
        if not 0 <= self.error_share <= 1:
            wrong.append(f"--fault-error-share must be between 0 and 1, not {self.error_share}")
        for flag, value in (
            ("--fault-slow-ms", self.slow_ms),
            ("--fault-s", self.fault_s),
            ("--fault-tail-s", self.tail_s),
        ):
            if value <= 0:
                wrong.append(f"{flag} must be greater than 0, not {value}")
        return wrong


@dataclass(frozen=True)
class FaultRun:
    """One fault on one stage of one architecture, with the gateway's resilience on or off."""

    arch: str
    fault: str
    stage: str
    resilience: bool
    rep: int = 0

    @property
    def key(self) -> str:
        mode = "resilient" if self.resilience else "plain"
        return f"{SCENARIO}/{self.arch}/{self.fault}-{self.stage}-{mode}/rep{self.rep}"

    @property
    def service(self) -> str:
        return hosting(self.arch, self.stage)


def plan(config: FaultConfig, archs: Sequence[str], profile: str) -> list[FaultRun]:
    """The fault runs of a bench, grouped so that runs sharing a stack are consecutive."""
    full = profile == "full"
    kinds = config.kinds or (FAULTS if full else DEFAULT_FAULTS)
    stages = config.stages or (STAGE_NAMES if full else DEFAULT_STAGES)
    modes = config.resilience or ((False, True) if full else (False,))
    runs = []
    for rep in range(config.repeat):
        for arch in archs:
            # the monolith has no gateway: resilience patterns do not apply
            for resilient in modes if arch != "monolith" else (False,):
                runs += [FaultRun(arch, k, s, resilient, rep) for s in stages for k in kinds]
    return runs


def stacks_of(runs: Sequence[FaultRun]) -> list[list[FaultRun]]:
    """Consecutive runs on the same architecture, gateway mode and repetition: one stack each."""
    groups: list[list[FaultRun]] = []
    for run in runs:
        if groups and _stack_key(groups[-1][0]) == _stack_key(run):
            groups[-1].append(run)
        else:
            groups.append([run])
    return groups


def _stack_key(run: FaultRun) -> tuple[str, bool, int]:
    return run.arch, run.resilience, run.rep
