"""The bench's one frozen configuration: defaults, the quick preset, and checks on user values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.load import payloads
from bench.load.distributed_records import SCENARIOS as DISTRIBUTED
from bench.load.search import MIN_REQUESTS
from bench.load.shapes import SCENARIOS
from bench.run import faults, update
from bench.run.faults import FaultConfig
from bench.run.locust_process import split_address
from bench.run.update import UpdateConfig
from pipeline.errors import UserError
from pipeline.paths import DEFAULT_MODEL_DIR, ROOT
from pipeline.stages import STAGE_NAMES
from pipeline.train import VARIANTS
from stack.backends import BACKENDS, DOCKER_BUDGETS
from stack.remote import REMOTE_FAULTS
from stack.targets import Target
from stack.topology import ARCHITECTURES, Budget, hosting

DEFAULT_ARCHS = ("monolith", "micro")
# The p99 objective every capacity, verdict and plan is judged against unless the user sets one.
DEFAULT_SLO_MS = 100.0
# Parts the harness runs itself (not Locust scenarios): scaling (replicas against workers), the
# model/batch sweep, and framework (micro-flask's short steady run beside micro's).
COST_PARTS = ("scaling", "sweep")
FRAMEWORK = "framework"
PARTS = (*COST_PARTS, FRAMEWORK)
# The bench's scenarios: the load shapes, the fault runs (steady load plus one fault each), the
# update runs (steady load while a new model version is deployed), and the parts.
BENCH_SCENARIOS = (*SCENARIOS, faults.SCENARIO, update.SCENARIO, *PARTS)
# The closed-loop ramp tells nothing the open-loop scenarios do not, and the sweep's three models
# take 13 minutes: both run in the full profile or when asked for. Every claim's experiment runs
# by default, scaling and framework in their reduced form (BenchConfig.scaling_points).
FULL_ONLY = ("ramp", "sweep")
DEFAULT_SCENARIOS = (
    *(s for s in SCENARIOS if s not in FULL_ONLY),
    faults.SCENARIO,
    update.SCENARIO,
    *(p for p in PARTS if p not in FULL_ONLY),
)
# What the full profile adds to the scenarios asked for.
FULL_ADDS = (*FULL_ONLY, *PARTS)
# The scaling part's replica counts: the full profile's deep version, and the default run's one
# scaled point per architecture (its one-replica point is the run's own first capacity search).
# What a default run leaves out per backend: Docker runs one replica per service (no scaling);
# a remote deployment's run starts no stack of ours (no scaling, framework or update part).
LEFT_OUT = {"docker": ("scaling",), "remote": (*COST_PARTS, FRAMEWORK, update.SCENARIO)}
FULL_REPLICAS, DEFAULT_REPLICAS = (1, 2, 3), (1, 2)
# What a default run with Locust workers leaves out: the fault and update runs and the parts,
# which the harness times or starts itself around one Locust process.
WORKERS_LEFT_OUT = tuple(s for s in DEFAULT_SCENARIOS if s not in DISTRIBUTED)
PROFILES = faults.PROFILES
DEFAULT_PRICES = ROOT / "bench" / "prices.toml"


def scenario_repeats(scenario: str, repeat: int, profile: str, spike_repeat: int | None) -> int:
    """A Locust scenario's repetitions: the run's, but the spike's own outside the full profile
    (also for a meta.json's config, where runs before spike_repeat have None)."""
    if scenario == "spike" and profile != "full" and spike_repeat is not None:
        return min(spike_repeat, repeat)
    return repeat


class ConfigError(UserError):
    """A configuration value the user gave is not valid; the message says what is."""


def check_positive(flags: Mapping[str, float | None]) -> None:
    """ConfigError naming the first flag whose value is given and not greater than 0."""
    for name, value in flags.items():
        if value is not None and value <= 0:
            raise ConfigError(f"--{name} must be greater than 0, not {value:g}")


@dataclass(frozen=True)
class BenchConfig:
    """Everything a bench run does; written whole into the run's meta.json."""

    archs: tuple[str, ...] = DEFAULT_ARCHS
    # the bundle every stack serves and the load's records come from (the sweep has its own)
    model_dir: str = str(DEFAULT_MODEL_DIR)
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    profile: str = "default"
    repeat: int = 3
    slo_ms: float = DEFAULT_SLO_MS
    warmup_s: float = 2.0
    # capacity: the in-process calibration, a closed-loop probe (the saturation throughput), then
    # the search's open-loop trials (bench.load.search), each from step_s to trial_max_s long
    calibration_s: float = 1.0
    probe_s: float = 3.0
    step_s: float = 2.0
    trial_max_s: float = 6.0
    trial_requests: int = MIN_REQUESTS
    max_trials: int = 14
    search_tolerance: float = 0.06
    # steady and spike run at `rate`, or at `rate_fraction` of the lowest measured capacity
    rate: float | None = None
    rate_fraction: float = 0.5
    fallback_rate: float = 50.0
    steady_s: float = 8.0
    spike_s: float = 12.0
    spike_multiple: float = 3.0
    # The spike's repetitions (None: the run's). Once per architecture by default: no verdict
    # reads it, and its two further repetitions (about 80 s) pay for the scaling and framework
    # parts; the full profile repeats it as every scenario.
    spike_repeat: int | None = 1
    # ramp: classic closed-loop Locust users
    ramp_users: int = 16
    ramp_spawn_rate: float = 8.0
    ramp_hold_s: float = 4.0
    max_in_flight: int = 64
    invalid_share: float = 0.05
    seed: int = 1
    label: str = "bench"
    base_port: int = 8000
    budget: Budget = field(default_factory=Budget)
    # where stacks run (stack.backends): local processes, or compose projects on Docker in a
    # budget mode (partition: each container its own cap; shared: one cap for the stack)
    backend: str = "local"
    docker_budget: str = "partition"
    fault: FaultConfig = field(default_factory=FaultConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    # cost: prices file; each stack start is sampled at rest for idle_s after a short settle
    prices: str = str(DEFAULT_PRICES)
    idle_s: float = 1.0
    # scaling: capacity with more replicas of one stage, or more monolith workers, same budget
    scaling_stage: str = "score"
    # None: the profile's (scaling_points)
    scaling_replicas: tuple[int, ...] | None = None
    # sweep: model variants x batch sizes, one request at a time for sweep_s each
    sweep_models: tuple[str, ...] = VARIANTS
    sweep_batches: tuple[int, ...] = (1, 8, 32)
    sweep_s: float = 5.0
    # Mutual TLS between the gateway and the stages of every microservices stack of the run.
    secure_hops: bool = False
    # remote: the running deployments measured, one per architecture (stack.targets)
    targets: tuple[Target, ...] = ()
    # Locust workers sharing the open-loop schedule (0: one Locust process); with master_bind
    # (HOST:PORT) they are started elsewhere, else forked on the generator's CPUs.
    workers: int = 0
    master_bind: str | None = None

    def runs(self, part: str) -> bool:
        """Whether a harness part (scaling, sweep, framework) runs: asked for, or in the full
        profile."""
        return part in self.scenarios or (self.profile == "full" and part in FULL_ADDS)

    @property
    def calibrates(self) -> bool:
        """Whether each capacity search is calibrated on this machine: not for a remote stack,
        whose machine is not this one."""
        return self.backend != "remote"

    def repeats(self, scenario: str) -> int:
        """How many repetitions a Locust scenario runs."""
        return scenario_repeats(scenario, self.repeat, self.profile, self.spike_repeat)

    def scaling_points(self) -> tuple[tuple[int, ...], int]:
        """The scaling part's replica counts and repetitions. The full profile measures 1, 2 and
        3 replicas in every repetition; the default run one scaled point per architecture, once
        (about 40 s each): the claim's verdict needs one replica count against one worker count,
        and each point is a whole capacity search, not a shortened one."""
        if self.profile == "full":
            return self.scaling_replicas or FULL_REPLICAS, self.repeat
        return self.scaling_replicas or DEFAULT_REPLICAS, 1

    @property
    def locust_scenarios(self) -> tuple[str, ...]:
        return tuple(
            s for s in SCENARIOS if s in self.scenarios or (s in FULL_ONLY and self.runs(s))
        )

    def as_dict(self) -> dict[str, Any]:
        # A target's admin token never reaches a run folder.
        return {**asdict(self), "targets": [t.public() for t in self.targets]}

    def workers_note(self) -> str:
        """The one line a default run with --workers prints: what it leaves out, and why."""
        return (
            f"--workers: {', '.join(WORKERS_LEFT_OUT)} not measured (the harness runs them around "
            "one Locust process); run them without --workers"
        )

    def _check_workers(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"--workers must be 0 or more, not {self.workers}")
        others = [s for s in self.scenarios if s not in DISTRIBUTED]
        if self.workers and (others or self.profile != "default"):
            raise ConfigError(
                f"--workers runs the {', '.join(DISTRIBUTED)} scenarios only, not "
                f"{', '.join(others) or 'the full profile'}; choose from them with --scenario "
                f"{','.join(DISTRIBUTED)}"
            )
        if self.master_bind is not None:
            if not self.workers:
                raise ConfigError("--master-bind needs --workers N: the workers it waits for")
            try:
                split_address(self.master_bind)
            except ValueError as exc:
                raise ConfigError(f"--master-bind: {exc}") from None

    def check(self) -> BenchConfig:
        """Raise ConfigError naming the first invalid value and what is valid; the default
        scenarios lose the parts the backend, or Locust workers, cannot run (asked for by name,
        they are refused)."""
        left_out = LEFT_OUT.get(self.backend, ()) + (WORKERS_LEFT_OUT if self.workers else ())
        if self.scenarios == DEFAULT_SCENARIOS and left_out:
            kept = tuple(s for s in self.scenarios if s not in left_out)
            return replace(self, scenarios=kept)._checked()
        return self._checked()

    def _checked(self) -> BenchConfig:
        for arch in self.archs:
            if arch not in ARCHITECTURES:
                raise ConfigError(
                    f"unknown architecture {arch!r}; choose from: {', '.join(ARCHITECTURES)}"
                )
        for scenario in self.scenarios:
            if scenario not in BENCH_SCENARIOS:
                raise ConfigError(
                    f"unknown scenario {scenario!r}; choose from: {', '.join(BENCH_SCENARIOS)}"
                )
        if self.profile not in PROFILES:
            raise ConfigError(
                f"unknown profile {self.profile!r}; choose from: {', '.join(PROFILES)}"
            )
        for problem in self.fault.check() + self.update.check():
            raise ConfigError(problem)
        if self.scaling_stage not in STAGE_NAMES:
            raise ConfigError(
                f"cannot scale {self.scaling_stage!r}; choose from: {', '.join(STAGE_NAMES)}"
            )
        replicas, _ = self.scaling_points()
        if not replicas or min(replicas) < 1:
            raise ConfigError(f"replica counts must be 1 or more, not {replicas}")
        for model in self.sweep_models:
            if model not in VARIANTS:
                raise ConfigError(f"unknown model {model!r}; choose from: {', '.join(VARIANTS)}")
        if not self.sweep_batches or min(self.sweep_batches) < 1:
            raise ConfigError(f"batch sizes must be 1 or more, not {self.sweep_batches}")
        self._check_backend()
        self._check_workers()
        if not self.archs or not self.scenarios:
            raise ConfigError("choose at least one architecture and one scenario")
        try:
            payloads.source(Path(self.model_dir))
        except UserError as exc:
            raise ConfigError(f"--model {self.model_dir}: {exc}") from None
        check_positive(
            {
                "repeat": self.repeat,
                "slo-ms": self.slo_ms,
                "duration": self.steady_s,
                "step": self.step_s,
                "trial-max": self.trial_max_s,
                "trial-requests": self.trial_requests,
                "max-trials": self.max_trials,
                "search-tolerance": self.search_tolerance,
                "calibration": self.calibration_s,
                "probe": self.probe_s,
                "max-in-flight": self.max_in_flight,
                "rate": self.rate,
            }
        )
        if not 0 <= self.invalid_share <= 1:
            raise ConfigError(f"--invalid-share must be between 0 and 1, not {self.invalid_share}")
        if self.warmup_s < 0:
            raise ConfigError(f"--warmup must be 0 or more, not {self.warmup_s}")
        if self.idle_s <= 0 or self.sweep_s <= 0:
            raise ConfigError("idle and sweep durations must be greater than 0")
        return self

    def _check_backend(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}; choose from: {', '.join(BACKENDS)}"
            )
        if self.docker_budget not in DOCKER_BUDGETS:
            raise ConfigError(
                f"unknown Docker budget {self.docker_budget!r}; choose from: "
                f"{', '.join(DOCKER_BUDGETS)}"
            )
        if self.backend == "remote":
            self._check_remote()
        elif self.targets:
            raise ConfigError(
                f"--target measures a running deployment; it takes no --backend {self.backend}"
            )
        if self.backend != "docker":
            return
        if self.runs("scaling"):
            raise ConfigError("the Docker backend runs one replica per service: no scaling part")

    def _check_remote(self) -> None:
        """What a stack the harness did not start can be asked to do."""
        given = {t.arch for t in self.targets}
        for arch in self.archs:
            if arch not in given:
                choice = ", ".join(sorted(given)) or "none"
                raise ConfigError(f"no --target for {arch!r}; targets given: {choice}")
        for part in COST_PARTS:
            if self.runs(part):
                raise ConfigError(f"the {part} part starts stacks of its own: not with --target")
        if self.secure_hops:
            raise ConfigError("--secure-hops: a remote deployment's hops are its own, not ours")
        if faults.SCENARIO not in self.scenarios:
            return
        for kind in self.fault.kinds or ():
            if kind not in REMOTE_FAULTS:
                raise ConfigError(
                    f"fault {kind!r} needs the process on this machine; with --target choose "
                    f"from: {', '.join(REMOTE_FAULTS)}"
                )
        if self.fault.resilience not in (None, (False,)):
            raise ConfigError("--resilience: a remote gateway runs with its own settings")
        for run in faults.plan(self.fault, self.archs, self.profile):
            target = next(t for t in self.targets if t.arch == run.arch)
            service = target.services.get(hosting(run.arch, run.stage))
            if not (target.admin_token and service and service.admin_url):
                raise ConfigError(
                    f"faults on {run.arch}'s {run.stage} need its admin URL and the "
                    "admin_token in the --targets file"
                )

    def remote_defaults(self, scenarios_given: bool, kinds_given: bool) -> tuple[BenchConfig, str]:
        """The run on remote targets where the user left the faults or the scenarios to the
        profile: only the faults a remote stack can take, and no fault runs without the admin
        URLs and token; with one line saying what is left out (empty: nothing)."""
        if self.backend != "remote":
            return self, ""
        chosen, notes = self, []
        if not scenarios_given:
            parts = [s for s in self.scenarios if s in LEFT_OUT["remote"]]
            if parts:
                notes.append(f"{', '.join(parts)}: not measured (they start stacks of their own)")
            kept = tuple(s for s in self.scenarios if s not in parts)
            chosen = replace(chosen, scenarios=kept)
        if faults.SCENARIO not in chosen.scenarios:
            return chosen, "; ".join(notes)
        if not kinds_given:
            kinds = faults.FAULTS if self.profile == "full" else faults.DEFAULT_FAULTS
            left = [k for k in kinds if k not in REMOTE_FAULTS]
            if left:
                notes.append(f"faults {', '.join(left)}: not measured (no process to signal)")
            offered = tuple(k for k in kinds if k in REMOTE_FAULTS)
            # one gateway mode: the deployment's own (bench.run.faults keys it "plain")
            fault = replace(self.fault, kinds=offered, resilience=(False,))
            chosen = replace(chosen, fault=fault)
        if not scenarios_given:
            try:
                chosen._check_remote()
            except ConfigError as exc:
                rest = tuple(s for s in chosen.scenarios if s != faults.SCENARIO)
                notes.append(f"faults: not measured ({exc})")
                return replace(chosen, scenarios=rest), "; ".join(notes)
        return chosen, "; ".join(notes)

    def with_duration(self, seconds: float) -> BenchConfig:
        """Scale the measured part of every load scenario to about `seconds` (fault runs keep
        their own timeline: a crash needs time to come back)."""
        return replace(
            self,
            steady_s=seconds,
            spike_s=seconds,
            step_s=float(max(1, round(seconds / 4))),
            trial_max_s=float(max(2, round(seconds / 2))),
            ramp_hold_s=max(1.0, seconds / 3),
            sweep_s=max(1.0, seconds / 2),
        )


# The smoke check (`make bench-quick`, 4 min 37 s here, half of it the update and scaling parts):
# every scenario, shorter, and of the faults only the crash of score.
QUICK = BenchConfig(
    repeat=1,
    warmup_s=1.0,
    probe_s=2.0,
    step_s=1.0,
    trial_max_s=2.0,
    trial_requests=300,
    max_trials=7,
    search_tolerance=0.12,
    steady_s=4.0,
    spike_s=4.5,
    ramp_users=8,
    ramp_spawn_rate=8.0,
    ramp_hold_s=2.0,
    idle_s=1.0,
    sweep_s=2.0,
    label="quick",
    fault=FaultConfig(kinds=("crash",), lead_s=2.0, fault_s=2.0, tail_s=3.0),
)
