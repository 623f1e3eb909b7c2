"""The bench's one frozen configuration: defaults, the quick preset, and checks on user values."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench import faults
from bench.faults import FaultConfig
from bench.shapes import CAPACITY_FRACTIONS, SCENARIOS
from stack.topology import ARCHITECTURES, Budget

DEFAULT_ARCHS = ("monolith", "micro")
# The bench's scenarios: the load shapes, then the fault runs (steady load plus one fault each).
BENCH_SCENARIOS = (*SCENARIOS, faults.SCENARIO)


class ConfigError(ValueError):
    """A configuration value the user gave is not valid; the message says what is."""


@dataclass(frozen=True)
class BenchConfig:
    """Everything a bench run does; written whole into the run's meta.json."""

    archs: tuple[str, ...] = DEFAULT_ARCHS
    scenarios: tuple[str, ...] = BENCH_SCENARIOS
    profile: str = "default"
    repeat: int = 3
    slo_ms: float = 100.0
    warmup_s: float = 2.0
    # capacity: closed-loop probe, then open-loop steps at fractions of the probe's throughput
    probe_s: float = 3.0
    step_s: float = 3.0
    capacity_fractions: tuple[float, ...] = CAPACITY_FRACTIONS
    # steady and spike run at `rate`, or at `rate_fraction` of the lowest measured capacity
    rate: float | None = None
    rate_fraction: float = 0.5
    fallback_rate: float = 50.0
    steady_s: float = 10.0
    spike_s: float = 12.0
    spike_multiple: float = 3.0
    # ramp: classic closed-loop Locust users
    ramp_users: int = 16
    ramp_spawn_rate: float = 4.0
    ramp_hold_s: float = 4.0
    max_in_flight: int = 64
    invalid_share: float = 0.05
    seed: int = 1
    label: str = "bench"
    base_port: int = 8000
    budget: Budget = field(default_factory=Budget)
    fault: FaultConfig = field(default_factory=FaultConfig)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> BenchConfig:
        """Raise ConfigError naming the first invalid value and what is valid."""
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
        if self.profile not in faults.PROFILES:
            raise ConfigError(
                f"unknown profile {self.profile!r}; choose from: {', '.join(faults.PROFILES)}"
            )
        for problem in self.fault.check():
            raise ConfigError(problem)
        if not self.archs or not self.scenarios:
            raise ConfigError("choose at least one architecture and one scenario")
        positive = {
            "repeat": self.repeat,
            "slo-ms": self.slo_ms,
            "duration": self.steady_s,
            "step": self.step_s,
            "probe": self.probe_s,
            "max-in-flight": self.max_in_flight,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"--{name} must be greater than 0, not {value}")
        if self.rate is not None and self.rate <= 0:
            raise ConfigError(f"--rate must be greater than 0, not {self.rate}")
        if not 0 <= self.invalid_share <= 1:
            raise ConfigError(f"--invalid-share must be between 0 and 1, not {self.invalid_share}")
        if self.warmup_s < 0:
            raise ConfigError(f"--warmup must be 0 or more, not {self.warmup_s}")
        return self

    def with_duration(self, seconds: float) -> BenchConfig:
        """Scale the measured part of every load scenario to about `seconds` (fault runs keep
        their own timeline: a crash needs time to come back)."""
        steps = len(self.capacity_fractions)
        return replace(
            self,
            steady_s=seconds,
            spike_s=seconds,
            step_s=max(1.0, round(seconds / steps * 2) / 2),
            ramp_hold_s=max(1.0, seconds / 3),
        )


QUICK = BenchConfig(
    repeat=1,
    warmup_s=1.0,
    probe_s=2.0,
    step_s=2.0,
    capacity_fractions=(0.4, 0.7, 0.9, 1.1),
    steady_s=5.0,
    spike_s=6.0,
    ramp_users=8,
    ramp_hold_s=2.0,
    label="quick",
    fault=FaultConfig(lead_s=2.0, fault_s=3.0, tail_s=5.0),
)
