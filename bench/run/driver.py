"""Driving one Locust job against a started stack: the stack started in its budget with its start
recorded, Locust on the generator's CPUs beside a resource sampler (and a fault's injection), and
the job's raw files. Every part of a bench run (scenarios, faults, scaling, sweep) drives load
through here; what the raw files mean is bench.analyse.summary's business."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from bench.analyse.summary import JOB_FILE
from bench.config import BenchConfig
from bench.measure import resources
from bench.run.job import Job, locust_argv, longest_seconds, planned_seconds
from bench.run.locust_process import LOCUST_GRACE_S, start_locust, stop_grace_s, stop_group
from bench.run.progress import Display
from bench.store.folder import RunFolder, write_atomic
from stack.backends import new_stack
from stack.budget import generator_cpus
from stack.compose import HEALTHCHECK_S
from stack.runner import Stack


class Timeline(Protocol):
    """What the harness does to a stack while a job's load runs (a fault's injection, a
    deploy): a context manager whose record goes to events.json."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *_: object) -> None: ...

    def as_dict(self) -> dict[str, Any]: ...


class Driver:
    """Starts stacks and drives jobs for one run folder, at the run's common rate once known."""

    def __init__(self, config: BenchConfig, display: Display, folder: RunFolder) -> None:
        self.config = config
        self.display = display
        self.folder = folder
        self.rate: float | None = config.rate
        self.generator_cpus = generator_cpus(config.budget)
        self.sampled: set[str] = set()  # stack kinds whose footprint at rest is sampled

    @property
    def path(self) -> Path:
        return self.folder.path

    def settings(self, extra: Mapping[str, object] | None = None) -> dict[str, object]:
        """The serving settings of a stack of this run: the run's model, then `extra` (a part's
        own model, a fault run's gateway settings)."""
        return {"model_dir": self.config.model_dir, **(extra or {})}

    def idle_seconds(self) -> float:
        """How long a stack is sampled at rest. On Docker, a whole healthcheck interval and a
        second: every container probes every ~5.3 s, all in step, so a shorter window's figure
        depends on whether it caught a round (1% or 10% at rest, in the same stack)."""
        if self.config.backend == "docker":
            return max(self.config.idle_s, HEALTHCHECK_S + 1.0)
        return self.config.idle_s

    def start_seconds(self) -> float:
        """Roughly how long a stack start takes with its footprint at rest, for the progress bar."""
        return resources.SETTLE_S + self.idle_seconds() + 5.0

    @contextmanager
    def stack(
        self,
        arch: str,
        log_name: str,
        start_record: Path,
        replicas: Mapping[str, int] | None = None,
        settings: Mapping[str, object] | None = None,
    ) -> Iterator[Stack]:
        """A started stack in the budget whose start is recorded in `start_record` (spawn and
        ready times, samples at rest: bench.analyse.cost reads them), serving the run's model
        unless `settings` name another; stopped on leaving."""
        log_dir = self.path / "logs" / log_name
        config = self.config
        with new_stack(
            config.backend,
            config.docker_budget,
            arch,
            config.base_port,
            config.budget,
            log_dir,
            self.settings(settings),
            replicas=replicas,
            secure_hops=config.secure_hops,
            targets=config.targets,
        ) as stack:
            # The footprint at rest once per stack kind and run: it does not depend on the
            # repetition, and each sample costs a settle and an idle window (about 2 s).
            kind = json.dumps(
                [arch, sorted((replicas or {}).items()), self.settings(settings)], default=str
            )
            rows = [] if kind in self.sampled else resources.at_rest(stack, self.idle_seconds())
            self.sampled.add(kind)
            record = {
                "arch": arch,
                "replicas": stack.replicas,
                "spawned_unix": stack.spawned_unix,
                "ready_unix": stack.ready_unix,
                "idle": rows,
            }
            if start_record.exists():
                raise FileExistsError(f"{start_record} exists; a run folder is write-once")
            write_atomic(start_record, record)
            yield stack

    def drive(
        self,
        stack: Stack,
        job: Job,
        out: Path,
        part: str,
        point: Mapping[str, Any] | None = None,
        extra: Mapping[str, object] | None = None,
        planned_s: float | None = None,
        injection: Timeline | None = None,
        label: str = "running",
        attachments: Mapping[str, Any] | None = None,
    ) -> None:
        """Run one Locust job against a started stack, raw data into `out`: `job.json` (what
        ran: part, job, rate, budget, and the part's `point`), Locust's record and files, and
        the resource samples. Ctrl-C cuts the job short and keeps what it gathered (then
        KeyboardInterrupt goes on). An `injection` runs its timeline (a fault, a deploy) alongside;
        `attachments` are further raw files (name → JSON) measured for the job before it ran."""
        config = self.config
        out.mkdir(parents=True)
        for name, data in (attachments or {}).items():
            write_atomic(out / name, data)
        rate = self.rate or config.fallback_rate
        write_atomic(
            out / JOB_FILE,
            {
                **job.as_dict(),
                "part": part,
                "point": dict(point) if point else None,
                "rate_rps": rate,
                "budget": stack.applied.as_dict() if stack.applied else None,
                "started_unix": time.time(),
            },
        )
        argv = locust_argv(config, job, stack.url, rate, out, extra)
        planned = planned_s if planned_s is not None else planned_seconds(config, job.scenario)
        deadline = max(planned, longest_seconds(config, job.scenario)) + LOCUST_GRACE_S + 10
        self.display.phase(label, job.arch, job.scenario, job.rep)
        locust = start_locust(argv, self.generator_cpus, out / "locust.log")
        started = time.monotonic()
        interrupted = False
        sampler = resources.Sampler(stack, locust.pid)
        try:
            with sampler, injection or nullcontext():
                while locust.poll() is None:
                    stack.check_alive()
                    if time.monotonic() - started > deadline:
                        break
                    # a timeline that decides when its load has shown enough (a deploy's tail)
                    if getattr(injection, "finished", False):
                        break
                    self.display.advance(min(planned, time.monotonic() - started))
                    time.sleep(0.25)
        except KeyboardInterrupt:
            # Keep what this job gathered: Locust writes its record as it stops.
            interrupted = True
        finally:
            stop_group(locust, stop_grace_s(config.workers))
            write_atomic(out / "samples.json", sampler.rows)
            if injection is not None:
                write_atomic(out / "events.json", injection.as_dict())
        self.display.advance(planned + 6, done=True)
        if interrupted:
            raise KeyboardInterrupt
