"""The locustfile the harness runs headless: one shape, driven by --scenario."""

from bench.load.users import ClosedLoopUser, OpenLoopUser, ScenarioShape

__all__ = ["ClosedLoopUser", "OpenLoopUser", "ScenarioShape"]
