"""Running the update scenario (bench.run.update): the new model version made at setup, a stack
per way of deploying it, and the deploy done on its timeline under the steady load.

Every stack of the scenario serves the bundle folder `models/current` of the run folder, a
symlink to the run's model; the deploy points it at the new version (one atomic rename) and
restarts what must load it (stack.rollout). The new version: for a model archbench trains (the
demo and its variants), the next revision of it (pipeline.train: other weights, version 2.0.0,
the same preprocessing); for your own bundle, a copy of it named `<version>+update` (the same
weights: archbench cannot refit your model).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.run.driver import Driver
from bench.run.injection import schedule_start, settle
from bench.run.job import Job
from bench.run.update import (
    GATEWAY,
    REQUESTS_FILE,
    SCENARIO,
    UpdateConfig,
    UpdateRun,
    planned_seconds,
)
from pipeline import bundle, train
from stack import rollout
from stack.backends import new_stack
from stack.runner import Stack, StackError

MODELS_DIR = "models"
CURRENT = "current"


def new_version(model_dir: Path, into: Path) -> Path:
    """The next version of the run's model in `into` (see the module docstring)."""
    metadata = bundle.load(model_dir, with_model=False).metadata
    variant = metadata.get("variant")
    if variant in train.VARIANTS and str(metadata.get("name", "")).startswith("penguins"):
        train.train(into, str(variant), revision=1)
    else:
        bundle.reversioned(model_dir, into, f"{metadata['version']}+update")
    return into


def point(link: Path, target: Path) -> None:
    """Make `link` a symlink to `target`, replacing what it pointed at in one rename."""
    staged = link.with_name(f".{link.name}.next")
    staged.unlink(missing_ok=True)
    staged.symlink_to(target.resolve())
    os.replace(staged, link)


class Deployer:
    """A thread that deploys the new version `lead_s` into the measured part of the load, and
    records each step (Unix times) for events.json."""

    def __init__(
        self,
        stack: Stack,
        run: UpdateRun,
        config: UpdateConfig,
        marker: Path,
        versions: dict[str, Path],
    ) -> None:
        self.stack, self.run, self.config, self.marker = stack, run, config, marker
        self.versions = versions
        self.events: list[dict[str, Any]] = []
        self.schedule_start_unix: float | None = None
        self.error: str | None = None
        # set `tail_s` after the deploy ended (or failed): the driver then stops the load
        self.finished = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="archbench-deploy", daemon=True)

    def __enter__(self) -> Deployer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=rollout.READY_TIMEOUT_S)

    def _main(self) -> None:
        self.schedule_start_unix = schedule_start(self.marker, self._stop)
        if self.schedule_start_unix is None:
            self.error = "Locust's schedule never started"
            return
        at = self.schedule_start_unix + self.config.warmup_s + self.config.lead_s
        if self._stop.wait(max(0.0, at - time.time())):
            return
        try:
            self._deploy()
        except (OSError, StackError) as exc:
            self.error = f"the new version could not be deployed: {exc}"
        if not self._stop.wait(self.config.tail_s):
            self.events.append({"event": "stop", "t_unix": time.time()})
            self.finished = True

    def _deploy(self) -> None:
        run, stack = self.run, self.stack
        self.events.append({"event": "start", "t_unix": time.time()})
        point(self.versions["current"], self.versions["new"])
        if run.arch == "monolith" and run.variant == "rolling":
            self.events.append({"event": "reloaded", **rollout.reload_workers(stack, "monolith")})
        else:
            for service in run.services:
                self.events.append({"event": "restarted", **rollout.restart(stack, service)})
        self.events.append({"event": "end", "t_unix": time.time()})

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": asdict(self.run),
            "config": asdict(self.config),
            "services": list(self.run.services),
            "versions": {k: str(v) for k, v in self.versions.items()},
            "old_version": bundle.load(self.versions["old"], with_model=False).version,
            "new_version": bundle.load(self.versions["new"], with_model=False).version,
            "schedule_start_unix": self.schedule_start_unix,
            "warmup_s": self.config.warmup_s,
            "events": self.events,
            "error": self.error,
        }


def run(driver: Driver, runs: list[UpdateRun], probe: bytes) -> None:
    """Every update run, each on a stack of its own serving the old version at its start."""
    if not runs:
        return
    config = driver.config
    models = driver.path / MODELS_DIR
    old = Path(config.model_dir).resolve()
    versions = {"old": old, "new": new_version(old, models / "new"), "current": models / CURRENT}
    for update in runs:
        point(versions["current"], old)
        settings = driver.settings({"model_dir": str(versions["current"])})
        if update.arch != "monolith":
            settings.update(GATEWAY)
        log_dir = driver.path / "logs" / f"{update.arch}-rep{update.rep}-update-{update.variant}"
        driver.display.phase(f"starting {update.arch}", update.arch, SCENARIO, update.rep)
        with new_stack(
            config.backend,
            config.docker_budget,
            update.arch,
            config.base_port,
            config.budget,
            log_dir,
            settings,
            replicas=update.replicas,
            secure_hops=config.secure_hops,
        ) as stack:
            _drive(driver, stack, update, versions, probe)


def _drive(
    driver: Driver, stack: Stack, update: UpdateRun, versions: dict[str, Path], probe: bytes
) -> None:
    job = Job(update.arch, SCENARIO, update.rep, update=update)
    out = driver.path / "raw" / job.key
    settle(stack, probe)
    uconfig = driver.config.update
    deployer = Deployer(stack, update, uconfig, out / "schedule.start", versions)
    extra = {
        # an update run is the steady scenario with a deploy done by the harness
        "--scenario": "steady",
        "--duration": uconfig.max_s,
        "--warmup": uconfig.warmup_s,
        "--max-in-flight": uconfig.max_in_flight,
        "--request-log": out / REQUESTS_FILE,
    }
    label = f"{update.variant} update"
    planned = planned_seconds(uconfig)
    driver.drive(
        stack, job, out, SCENARIO, extra=extra, planned_s=planned, injection=deployer, label=label
    )
