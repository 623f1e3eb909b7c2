"""`archbench bench`: both architectures × the scenarios × repetitions, into one result folder.

For each run the stack starts inside its budget, Locust runs headless on the generator's CPU, a
sampler records resources, and the raw record is summarised. Every stack start is recorded
(ready times, footprint at rest) for the cost figures. The `faults` scenario follows: steady load
with one fault injected mid-run (bench.run.faults), on stacks with the restart policy, summarised
into summary.json["faults"] (bench.analyse.isolation). The scaling and sweep parts
(bench.run.scaling, bench.run.sweep) and the capacity plan (bench.analyse.plan) come last when
asked for. Ctrl-C stops every process within seconds and keeps what was gathered, marked incomplete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analyse import cost, isolation, plan
from bench.analyse import runs as analysis
from bench.config import BenchConfig
from bench.load import payloads
from bench.measure import resources
from bench.run import faults, scaling, sweep
from bench.run.faults import RESILIENCE_ENV, SCENARIO, FaultRun, stacks_of
from bench.run.injection import Injection, settle
from bench.run.locust_process import LOCUST_GRACE_S, locust_command, start_locust, stop_group
from bench.run.progress import Display
from bench.store.folder import RunFolder, environment
from pipeline.paths import RESULTS_ROOT
from stack.budget import generator_cpus, sut_cpus
from stack.runner import Stack, StackError, terminate_as_interrupt

# A valid single prediction: the request that tells a stack serves normally again.
PROBE = json.dumps(payloads.inputs()[0]).encode()


@dataclass(frozen=True)
class Job:
    """One scenario on one architecture in one repetition."""

    arch: str
    scenario: str
    rep: int
    fault: FaultRun | None = None

    @property
    def key(self) -> str:
        return self.fault.key if self.fault else f"{self.scenario}/{self.arch}/rep{self.rep}"


def planned_seconds(config: BenchConfig, scenario: str) -> float:
    """How long a scenario drives load (warm-up included), for timeouts and the progress bar."""
    if scenario == "capacity":
        return config.probe_s + config.warmup_s + config.step_s * len(config.capacity_fractions)
    if scenario == "steady":
        return config.warmup_s + config.steady_s
    if scenario == "spike":
        return config.warmup_s + config.spike_s
    if scenario == SCENARIO:
        return config.warmup_s + config.fault.measured_s
    return config.ramp_users / config.ramp_spawn_rate + config.ramp_hold_s


def locust_argv(
    config: BenchConfig,
    job: Job,
    url: str,
    rate: float,
    out: Path,
    extra: Mapping[str, object] | None = None,
) -> list[str]:
    """The Locust command for one job: its scenario, the schedule's figures, where to write;
    `extra` options override or add to these."""
    duration = {
        "spike": config.spike_s,
        "ramp": config.ramp_hold_s,
        SCENARIO: config.fault.measured_for(job.fault.fault if job.fault else ""),
    }.get(job.scenario, config.steady_s)
    faulty = job.scenario == SCENARIO
    return locust_command(
        url,
        {
            # a fault run is the steady scenario with a fault injected by the harness
            "--scenario": "steady" if faulty else job.scenario,
            "--rate": rate,
            "--duration": duration,
            "--warmup": config.warmup_s,
            "--step-duration": config.step_s,
            "--probe-duration": config.probe_s,
            "--capacity-fractions": ",".join(map(str, config.capacity_fractions)),
            "--spike-multiple": config.spike_multiple,
            "--max-in-flight": config.fault.max_in_flight if faulty else config.max_in_flight,
            "--ramp-users": config.ramp_users,
            "--ramp-spawn-rate": config.ramp_spawn_rate,
            "--payload-seed": config.seed + job.rep,
            "--invalid-share": config.invalid_share,
            "--record-file": out / "latency.json",
            "--csv": out / "locust",
            "--html": out / "locust.html",
            "--json-file": out / "locust",
            # SUT errors are data here, not a failure of the Locust process
            "--exit-code-on-error": 0,
            "--only-summary": True,
            "--loglevel": "WARNING",
            **(extra or {}),
        },
    )


class Bench:
    """Runs a configuration into a result folder."""

    def __init__(self, config: BenchConfig, display: Display, root: Path | None = None) -> None:
        self.config = config
        self.display = display
        # Before the folder exists: a bad price file is the user's mistake, not a run.
        self.prices = cost.load_prices(Path(config.prices))
        self.folder = RunFolder.create(config.label, root or RESULTS_ROOT)
        self.summaries: dict[str, dict[str, Any]] = {}
        self.faults: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}
        self.rate: float | None = config.rate
        self.generator_cpus = generator_cpus(config.budget)
        # Per-run figures of the scaling and sweep parts, kept as they come (Ctrl-C keeps them).
        self.scaling_runs: list[dict[str, Any]] = []
        self.sweep_runs: list[dict[str, Any]] = []

    def run(self) -> Path:
        """Run every job; on Ctrl-C or SIGTERM keep what is done and mark the run incomplete."""
        config = self.config
        self.folder.write_json(
            "meta.json",
            {
                "config": config.as_dict(),
                "environment": environment(),
                "cpus": {"sut": sut_cpus(config.budget), "generator": self.generator_cpus},
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
        self.summary = {
            "status": status,
            "reason": reason,
            "rate_rps": self.rate,
            "runs": self.summaries,
            "by_arch": analysis.aggregate(self.summaries, config.archs, config.scenarios),
        }
        if SCENARIO in config.scenarios:
            self.summary["faults"] = self.faults
        self.summary.update(self._cost_parts())
        self.folder.write_json("summary.json", self.summary)
        if failure is not None:
            raise failure
        return self.folder.path

    def _jobs(self, scenarios: list[str]) -> Iterator[tuple[str, int, list[str]]]:
        """(arch, rep, scenarios) in an order that alternates which architecture goes first."""
        for rep in range(self.config.repeat):
            archs = list(self.config.archs)
            if rep % 2:
                archs.reverse()
            for arch in archs:
                yield arch, rep, scenarios

    def _cost_parts(self) -> dict[str, Any]:
        """The summary keys of issue 6 (cost, scaling, sweep, plan), each only when measured."""
        config, parts = self.config, dict[str, Any]()
        validity = {k: s["validity"]["valid"] for k, s in self.summaries.items()}
        figures = cost.summarize(
            self.folder.path, config.archs, config.budget, self.prices, validity
        )
        if figures:
            parts["cost"] = figures
        if self.scaling_runs:
            parts["scaling"] = scaling.summarize(self.scaling_runs)
        if self.sweep_runs:
            points = sweep.summarize(self.sweep_runs)
            parts["sweep"], parts["sweep_crossover"] = points, sweep.crossover(points)
        planned = plan.from_summary({**self.summary, **parts}, config.slo_ms, self.prices)
        if planned is not None:
            parts["plan"] = planned
        return parts

    def _run_all(self) -> None:
        config = self.config
        locust_scenarios = config.locust_scenarios
        phases = [
            [s for s in locust_scenarios if s == "capacity"],
            [s for s in locust_scenarios if s != "capacity"],
        ]
        fault_runs = faults.plan(config.fault, config.archs, config.profile)
        if SCENARIO not in config.scenarios:
            fault_runs = []
        starts = sum(1 for phase in phases if phase) * config.repeat * len(config.archs)
        total = sum(planned_seconds(config, s) + 6 for s in locust_scenarios)
        total = total * config.repeat * len(config.archs) + starts * self.start_seconds()
        total += (planned_seconds(config, SCENARIO) + 8) * len(fault_runs)
        total += scaling.planned_seconds(self) + sweep.planned_seconds(self)
        self.display.start(total)
        for phase in phases:
            if not phase:
                continue
            if phase[0] != "capacity" and self.rate is None:
                self.rate = self._common_rate()
            for arch, rep, scenarios in self._jobs(phase):
                self._run_stack(arch, rep, scenarios)
        if fault_runs and self.rate is None:
            self.rate = self._common_rate()
        for group in stacks_of(fault_runs):
            self._run_fault_stack(group)
        if config.runs("scaling"):
            scaling.run(self)
        if config.runs("sweep"):
            sweep.run(self)

    def start_seconds(self) -> float:
        """Roughly how long a stack start takes with its footprint at rest, for the progress bar."""
        return resources.SETTLE_S + self.config.idle_s + 5.0

    def _common_rate(self) -> float:
        """The steady rate: a fraction of the lowest capacity measured (median over reps)."""
        medians = []
        for arch in self.config.archs:
            values = [
                s.get("capacity_rps")
                for k, s in self.summaries.items()
                if k.startswith(f"capacity/{arch}/")
            ]
            medians.append(analysis.spread(values)["median"])
        known = [m for m in medians if m]
        if not known:
            return self.config.fallback_rate
        return round(min(known) * self.config.rate_fraction, 1)

    def _run_stack(self, arch: str, rep: int, scenarios: list[str]) -> None:
        name = f"rep{rep}-{scenarios[0]}"
        self.display.phase(f"starting {arch}", arch, scenarios[0], rep)
        start = self.folder.path / "raw" / "start" / arch / f"{name}.json"
        with self.stack(arch, f"{arch}-{name}", start) as stack:
            for scenario in scenarios:
                self._run_job(stack, Job(arch, scenario, rep))

    @contextmanager
    def stack(
        self,
        arch: str,
        log_name: str,
        start_record: Path,
        replicas: Mapping[str, int] | None = None,
        env: dict[str, str] | None = None,
    ) -> Iterator[Stack]:
        """A started stack in the budget whose start is recorded in `start_record` (spawn and
        ready times, samples at rest: bench.analyse.cost reads them); stopped on leaving."""
        log_dir = self.folder.path / "logs" / log_name
        config = self.config
        with Stack(arch, config.base_port, config.budget, log_dir, env, replicas=replicas) as stack:
            rows = resources.at_rest(stack, config.idle_s)
            record = {
                "arch": arch,
                "replicas": stack.replicas,
                "spawned_unix": stack.spawned_unix,
                "ready_unix": stack.ready_unix,
                "idle": rows,
            }
            start_record.parent.mkdir(parents=True, exist_ok=True)
            with start_record.open("x") as f:
                json.dump(record, f)
            yield stack

    def _run_job(self, stack: Stack, job: Job) -> None:
        def keep(summary: dict[str, Any]) -> None:
            self.summaries[job.key] = summary

        self.drive(stack, job, self.folder.path / "raw" / job.key, keep)

    def _run_fault_stack(self, runs: list[FaultRun]) -> None:
        """One stack, with the restart policy, for fault runs of one arch and resilience mode."""
        first = runs[0]
        mode = "resilient" if first.resilience else "plain"
        log_dir = self.folder.path / "logs" / f"{first.arch}-rep{first.rep}-faults-{mode}"
        self.display.phase(f"starting {first.arch} ({mode})", first.arch, SCENARIO, first.rep)
        env = dict(RESILIENCE_ENV[first.resilience])
        config = self.config
        with Stack(
            first.arch, config.base_port, config.budget, log_dir, env, restart=True
        ) as stack:
            for run in runs:
                self._run_fault(stack, Job(run.arch, SCENARIO, run.rep, run))

    def _run_fault(self, stack: Stack, job: Job) -> None:
        """Steady load with the job's fault injected on its timeline; its entry into `faults`."""
        assert job.fault is not None
        out = self.folder.path / "raw" / job.key
        settled = settle(stack, PROBE)
        config = self.config
        marker = out / "schedule.start"
        injection = Injection(stack, job.fault, config.fault, marker, config.warmup_s)
        injection.settled = settled

        def keep(summary: dict[str, Any]) -> None:
            events = injection.as_dict()
            (out / "events.json").write_text(json.dumps(events))
            record_path = out / "latency.json"
            record = json.loads(record_path.read_text()) if record_path.exists() else None
            rate = self.rate or config.fallback_rate
            figures = summary.get("resources")
            self.faults.append(
                isolation.entry(record, events, config.slo_ms, rate, figures, job.key)
            )

        label = f"{job.fault.fault} of {job.fault.stage}"
        self.drive(stack, job, out, keep, injection=injection, label=label)

    def drive(
        self,
        stack: Stack,
        job: Job,
        out: Path,
        keep: Callable[[dict[str, Any]], None],
        extra: Mapping[str, object] | None = None,
        planned_s: float | None = None,
        injection: Injection | None = None,
        label: str = "running",
    ) -> None:
        """Run one Locust job against a started stack, raw data into `out`; `keep` receives its
        summary (also when Ctrl-C cut the job short, before KeyboardInterrupt goes on). An
        `injection` runs its fault timeline alongside."""
        config = self.config
        out.mkdir(parents=True)
        rate = self.rate or config.fallback_rate
        argv = locust_argv(config, job, stack.url, rate, out, extra)
        planned = planned_s if planned_s is not None else planned_seconds(config, job.scenario)
        self.display.phase(label, job.arch, job.scenario, job.rep)
        locust = start_locust(argv, self.generator_cpus, out / "locust.log")
        started = time.monotonic()
        interrupted = False
        sampler = resources.Sampler(stack, locust.pid)
        try:
            with sampler, injection or nullcontext():
                while locust.poll() is None:
                    stack.check_alive()
                    if time.monotonic() - started > planned + LOCUST_GRACE_S + 10:
                        break
                    self.display.advance(min(planned, time.monotonic() - started))
                    time.sleep(0.25)
        except KeyboardInterrupt:
            # Keep what this job gathered: Locust writes its record as it stops.
            interrupted = True
        finally:
            stop_group(locust)
        (out / "samples.json").write_text(json.dumps(sampler.rows))
        self.display.advance(planned + 6, done=True)
        keep(self._summarize(job, out, sampler.rows, stack))
        if interrupted:
            raise KeyboardInterrupt

    def _summarize(
        self, job: Job, out: Path, rows: list[dict[str, Any]], stack: Stack
    ) -> dict[str, Any]:
        record_path = out / "latency.json"
        if not record_path.exists():
            return {
                "scenario": job.scenario,
                "arch": job.arch,
                "rep": job.rep,
                "validity": {"valid": False, "reasons": ["Locust wrote no record; see locust.log"]},
            }
        record = json.loads(record_path.read_text())
        start, end = record.get("measured_unix") or [None, None]
        figures = None
        if start and end:
            figures = resources.derive(rows, start, end, analysis.answered(record))
        summary = analysis.summarize(record, self.config.slo_ms, figures)
        summary.update(
            arch=job.arch, rep=job.rep, budget=stack.applied.as_dict() if stack.applied else None
        )
        return summary
