"""`archbench bench`: both architectures × the scenarios × repetitions, into one result folder.

For each run the stack starts inside its budget, Locust runs headless on the generator's CPU, a
sampler records resources, and the raw record is summarised. Every stack start is recorded
(ready times, footprint at rest) for the cost figures. The `faults` scenario follows: steady load
with one fault injected mid-run (bench.run.faults), on stacks with the restart policy, summarised
into summary.json["faults"] (bench.analyse.isolation), then the `update` scenario: steady load
while a new model version is deployed (bench.run.update, bench.run.deploy), summarised into
summary.json["update"] (bench.analyse.update). The scaling and sweep parts
(bench.run.scaling, bench.run.sweep) and the capacity plan (bench.analyse.plan) come last when
asked for. Ctrl-C stops every process within seconds and keeps what was gathered, marked incomplete.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.analyse import capacity, cost, summary
from bench.analyse.bridge import RAW_FILE as BRIDGE_FILE
from bench.config import BenchConfig
from bench.load import payloads
from bench.measure import calibration
from bench.run import deploy, faults, framework, rebuild, scaling, sweep, update
from bench.run.driver import Driver
from bench.run.faults import SCENARIO, FaultRun, stacks_of
from bench.run.injection import Injection, settle
from bench.run.job import Job, calibration_seconds, planned_seconds
from bench.run.progress import Display
from bench.store.folder import RunFolder, environment, write_atomic
from pipeline.bundle import ModelBundle
from pipeline.paths import RESULTS_ROOT
from serving.settings import Settings
from stack.backends import describe, new_stack
from stack.budget import sut_cpus
from stack.remote import NOT_MEASURED
from stack.runner import Stack, StackError, terminate_as_interrupt
from stack.topology import Budget

# Roughly how long the Docker runs' bridge measurement takes (two containers' start, the rounds).
BRIDGE_SECONDS = 15.0
# The bridge's hop tax against loopback (model folder, budget) -> its raw record: a self-check's
# measurement (bench.selfcheck.bridge.measure), handed in by the command, since the rooms of the
# run never import the self-checks that sit beside them.
HopFloor = Callable[[Path, Budget], dict[str, Any]]


def model_entry(bundle: ModelBundle, model_dir: str) -> dict[str, Any]:
    """What meta.json records of the served model: its name, version, task, model file's sha256
    (the bundle's metadata) and its folder."""
    return {
        "name": bundle.metadata.get("name"),
        "version": bundle.version,
        "task": bundle.task,
        "sha256": bundle.metadata.get("model_sha256"),
        "directory": model_dir,
    }


def served_defaults() -> dict[str, Any]:
    """The serving settings every stack of a run starts from (limits, timeouts, pools)."""
    per_process = ("host", "port", "model_dir", "stage_urls", "admin_port", "admin_token")
    # Secured hops are the run's switch (BenchConfig.secure_hops); their files, each process's.
    secured = ("secure_hops", "tls_cert_file", "tls_key_file", "tls_ca_file")
    defaults = asdict(Settings()).items()
    return {k: v for k, v in defaults if k not in per_process and k not in secured}


class Bench:
    """Runs a configuration into a result folder; its summary is derived from the folder."""

    def __init__(
        self,
        config: BenchConfig,
        display: Display,
        root: Path | None = None,
        hop_floor: HopFloor | None = None,
    ) -> None:
        """`hop_floor` measures a Docker run's bridge for its report; without one it is left
        out (the report says it was not measured)."""
        self.config = config
        self.display = display
        self.hop_floor = hop_floor
        # Before the folder exists: a bad price file is the user's mistake, not a run.
        self.prices = cost.load_prices(Path(config.prices))
        self.source = payloads.source(Path(config.model_dir))
        # A valid single prediction: the request that tells a stack serves normally again.
        self.probe = payloads.body(self.source.records[:1])
        self.folder = RunFolder.create(config.label, root or RESULTS_ROOT)
        self.driver = Driver(config, display, self.folder)
        self.summary: dict[str, Any] = {}

    def run(self) -> Path:
        """Run every job; on Ctrl-C or SIGTERM keep what is done and mark the run incomplete."""
        config = self.config
        remote = config.backend == "remote"
        self.folder.write_json(
            "meta.json",
            {
                "config": config.as_dict(),
                "model": model_entry(self.source.bundle, config.model_dir),
                "environment": environment(),
                # what every service runs with unless the run overrides it (fault runs' gateway);
                # a remote stack runs on CPUs and with settings of its own, not known here
                "cpus": {
                    "sut": None if remote else sut_cpus(config.budget),
                    "generator": self.driver.generator_cpus,
                },
                "serving": None if remote else served_defaults(),
                # where the stacks ran: local processes, Docker (engine version, budget mode), or
                # remote targets (their addresses, what could not be measured there)
                "backend": self._backend(),
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        status, reason = "complete", None
        failure: StackError | None = None
        with terminate_as_interrupt():
            try:
                self._run_all()
            except KeyboardInterrupt:
                status, reason = "incomplete", "interrupted"
            except StackError as exc:
                status, reason, failure = "incomplete", f"stack failed: {exc}", exc
        self.summary = self._summarize(status, reason)
        self.folder.write_json(rebuild.SUMMARY_FILE, self.summary)
        if failure is not None:
            raise failure
        return self.folder.path

    def _backend(self) -> dict[str, object]:
        config = self.config
        backend = describe(config.backend, config.docker_budget, config.targets)
        if config.backend == "remote":
            gaps = list(NOT_MEASURED)
            if SCENARIO not in config.scenarios:
                gaps.append("fault isolation (no faults run)")
            backend["not_measured"] = gaps
        return backend

    def _summarize(self, status: str, reason: str | None) -> dict[str, Any]:
        """summary.json, every figure derived from the folder's raw files."""
        config = self.config
        return rebuild.summarize(
            self.folder.path,
            config.archs,
            config.scenarios,
            config.slo_ms,
            config.budget,
            self.prices,
            self.driver.rate,
            status,
            reason,
        )

    def _jobs(self, scenarios: list[str]) -> list[tuple[str, int, list[str]]]:
        """(arch, rep, scenarios) in an order that alternates which architecture goes first; a
        scenario with fewer repetitions (BenchConfig.repeats) runs in the first ones."""
        order = []
        for rep in range(self.config.repeat):
            archs = list(self.config.archs)
            if rep % 2:
                archs.reverse()
            mine = [s for s in scenarios if rep < self.config.repeats(s)]
            order += [(arch, rep, mine) for arch in archs if mine]
        return order

    def _run_all(self) -> None:
        config, driver = self.config, self.driver
        locust_scenarios = config.locust_scenarios
        phases = [
            [s for s in locust_scenarios if s == "capacity"],
            [s for s in locust_scenarios if s != "capacity"],
        ]
        fault_runs = faults.plan(config.fault, config.archs, config.profile)
        if SCENARIO not in config.scenarios:
            fault_runs = []
        starts = sum(1 for phase in phases if phase) * config.repeat * len(config.archs)
        total = sum((planned_seconds(config, s) + 6) * config.repeats(s) for s in locust_scenarios)
        total = total * len(config.archs) + starts * driver.start_seconds()
        if "capacity" in locust_scenarios and config.calibrates:
            total += calibration_seconds(config) * config.repeats("capacity") * len(config.archs)
        total += (planned_seconds(config, SCENARIO) + 8) * len(fault_runs)
        total += framework.planned_seconds(driver)
        update_runs = self._update_runs()
        total += (update.planned_seconds(config.update) + 8) * len(update_runs)
        total += scaling.planned_seconds(driver) + sweep.planned_seconds(driver)
        total += BRIDGE_SECONDS if config.backend == "docker" and self.hop_floor else 0
        self.display.start(total)
        for phase in phases:
            if not phase:
                continue
            if phase[0] != "capacity" and driver.rate is None:
                driver.rate = self._common_rate()
            for arch, rep, scenarios in self._jobs(phase):
                self._run_stack(arch, rep, scenarios)
        if fault_runs and driver.rate is None:
            driver.rate = self._common_rate()
        for group in stacks_of(fault_runs):
            self._run_fault_stack(group)
        if framework.wanted(driver) and driver.rate is None:
            driver.rate = self._common_rate()
        framework.run(driver)
        if update_runs and driver.rate is None:
            driver.rate = self._common_rate()
        deploy.run(driver, update_runs, self.probe)
        if config.runs("scaling"):
            scaling.run(driver)
        if config.runs("sweep"):
            sweep.run(driver)
        if config.backend == "docker" and self.hop_floor is not None:
            # The bridge's own hop tax against loopback, for the report: the perf self-check's floor
            # hop, in containers.
            self.display.phase("hop floor: bridge and loopback", "floor", "hops", 0)
            record = self.hop_floor(Path(config.model_dir), config.budget)
            self.folder.write_json(BRIDGE_FILE, record)

    def _update_runs(self) -> list[update.UpdateRun]:
        """The update runs, when asked for: on local stacks only (the runner restarts one
        service of a running stack; Docker and remote targets have no such step yet)."""
        config = self.config
        local = config.backend == "local" and not config.targets
        if update.SCENARIO not in config.scenarios or not local:
            return []
        return update.plan(config.update, config.archs)

    def _common_rate(self) -> float:
        """The steady rate (bench.analyse.capacity.common_rate), or the fallback rate."""
        config = self.config
        runs = summary.scenario_runs(self.folder.path, config.slo_ms)
        rate = capacity.common_rate(runs, config.archs, config.rate_fraction)
        return config.fallback_rate if rate is None else rate

    def _run_stack(self, arch: str, rep: int, scenarios: list[str]) -> None:
        config = self.config
        name = f"rep{rep}-{scenarios[0]}"
        self.display.phase(f"starting {arch}", arch, scenarios[0], rep)
        start = self.folder.path / "raw" / "start" / arch / f"{name}.json"
        with self.driver.stack(arch, f"{arch}-{name}", start) as stack:
            for scenario in scenarios:
                job = Job(arch, scenario, rep)
                out = self.folder.path / "raw" / job.key
                if scenario != "capacity" or not config.calibrates:
                    self.driver.drive(stack, job, out, "scenario")
                    continue
                # The machine's speed right before this search and right after it, on the same
                # CPU: their mean stands for the search's minutes (the first is kept alone if
                # the search is cut short).
                self.display.phase("calibrating", arch, scenario, rep)
                before = self._calibrate()
                attached = {summary.CALIBRATION_FILE: before}
                self.driver.drive(stack, job, out, "scenario", attachments=attached)
                self.display.phase("calibrating after", arch, scenario, rep)
                write_atomic(
                    out / summary.CALIBRATION_FILE, calibration.around(before, self._calibrate())
                )

    def _calibrate(self) -> dict[str, Any]:
        config = self.config
        return calibration.measure(
            Path(config.model_dir), sut_cpus(config.budget), config.calibration_s
        )

    def _run_fault_stack(self, runs: list[FaultRun]) -> None:
        """One stack, with the restart policy, for fault runs of one arch and resilience mode."""
        first = runs[0]
        mode = "resilient" if first.resilience else "plain"
        log_dir = self.folder.path / "logs" / f"{first.arch}-rep{first.rep}-faults-{mode}"
        self.display.phase(f"starting {first.arch} ({mode})", first.arch, SCENARIO, first.rep)
        config = self.config
        with new_stack(
            config.backend,
            config.docker_budget,
            first.arch,
            config.base_port,
            config.budget,
            log_dir,
            self.driver.settings(config.fault.gateway(first.resilience)),
            restart=True,
            secure_hops=config.secure_hops,
            targets=config.targets,
        ) as stack:
            for run in runs:
                self._run_fault(stack, Job(run.arch, SCENARIO, run.rep, run))

    def _run_fault(self, stack: Stack, job: Job) -> None:
        """Steady load with the job's fault injected on its timeline (events.json beside)."""
        assert job.fault is not None
        out = self.folder.path / "raw" / job.key
        settled = settle(stack, self.probe)
        config = self.config
        marker = out / "schedule.start"
        injection = Injection(stack, job.fault, config.fault, marker, config.warmup_s)
        injection.settled = settled
        label = f"{job.fault.fault} of {job.fault.stage}"
        self.driver.drive(stack, job, out, "fault", injection=injection, label=label)
