"""`archbench soak`: one architecture under steady open-loop load for minutes, at a fraction of
its capacity (found by a short capacity probe first, unless a rate is given), while each
service's RSS, open file descriptors and TCP connections are sampled; then the analysis
(bench.analyse.soak) into `soak.json` of a new run folder. A benchmark, not a test."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from bench.analyse import soak as analysis
from bench.analyse.summary import job_summary
from bench.config import QUICK
from bench.run.driver import Driver
from bench.run.job import Job, planned_seconds
from bench.run.progress import Display
from bench.store.folder import RunFolder, environment
from pipeline.paths import RESULTS_ROOT
from stack.runner import Stack, terminate_as_interrupt

SOAK_FILE = "soak.json"


@dataclass(frozen=True)
class SoakConfig:
    """What one soak runs: defaults give the 5-minute soak at half the capacity."""

    arch: str
    duration_s: float = 300.0
    rate: float | None = None
    rate_fraction: float = 0.5
    # Samples before this (heap and pools filling, Locust's own warm-up) are not analysed.
    warmup_s: float = 60.0
    interval_s: float = 5.0
    model_dir: str = QUICK.model_dir
    base_port: int = 8000
    secure_hops: bool = False
    label: str = "soak"


def usage(process: psutil.Process) -> dict[str, int]:
    """RSS, open descriptors and inet connections of a service: its process and children
    (gunicorn's worker, uvicorn's workers)."""
    totals = {"rss_bytes": 0, "open_fds": 0, "connections": 0}
    for proc in [process, *process.children(recursive=True)]:
        try:
            with proc.oneshot():
                totals["rss_bytes"] += proc.memory_info().rss
                totals["open_fds"] += proc.num_fds()
                totals["connections"] += len(proc.net_connections(kind="inet"))
        except psutil.NoSuchProcess:
            continue
    return totals


class Watch:
    """A thread sampling every service of a stack each `interval_s` while load runs."""

    def __init__(self, stack: Stack, interval_s: float) -> None:
        self.stack, self.interval_s = stack, interval_s
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="archbench-soak", daemon=True)
        self._started = 0.0

    def _main(self) -> None:
        while not self._stop.is_set():
            services = {}
            for name, pid in self.stack.pids().items():
                try:
                    services[name] = usage(psutil.Process(pid))
                except psutil.NoSuchProcess:
                    continue
            self.samples.append({"t_s": time.monotonic() - self._started, "services": services})
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Watch:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def run(soak: SoakConfig, display: Display, root: Path = RESULTS_ROOT) -> tuple[Path, dict]:
    """Probe the capacity (unless given a rate), soak, analyse; (run folder, soak.json data)."""
    config = replace(
        QUICK,
        archs=(soak.arch,),
        scenarios=("steady",),
        steady_s=soak.duration_s,
        rate=soak.rate,
        rate_fraction=soak.rate_fraction,
        model_dir=soak.model_dir,
        base_port=soak.base_port,
        secure_hops=soak.secure_hops,
        label=f"{soak.label}-{soak.arch}",
    ).check()
    folder = RunFolder.create(config.label, root)
    folder.write_json(
        "meta.json", {"config": config.as_dict(), "soak": asdict(soak), **environment_entry()}
    )
    driver = Driver(config, display, folder)
    raw, capacity = folder.path / "raw", None
    probe_s = 0.0 if soak.rate else planned_seconds(config, "capacity") + 6
    display.start(probe_s + planned_seconds(config, "steady") + driver.start_seconds() + 6)
    try:
        with terminate_as_interrupt():
            start = raw / "start" / soak.arch / "soak.json"
            with driver.stack(soak.arch, "soak", start) as stack:
                if soak.rate is None:
                    job = Job(soak.arch, "capacity", 0)
                    driver.drive(stack, job, raw / job.key, "scenario", label="capacity probe")
                    capacity = job_summary(raw / job.key, config.slo_ms).get("capacity_rps")
                    driver.rate = round(capacity * soak.rate_fraction, 1) if capacity else None
                job = Job(soak.arch, "steady", 0)
                with Watch(stack, soak.interval_s) as watch:
                    driver.drive(stack, job, raw / job.key, "scenario", label="soak")
    finally:
        display.stop()
    rate = driver.rate or config.fallback_rate
    warmup_s = min(soak.warmup_s, soak.duration_s / 5)
    data = {
        "arch": soak.arch,
        "rate_rps": rate,
        "capacity_rps": capacity,
        "duration_s": soak.duration_s,
        "interval_s": soak.interval_s,
        **analysis.analyse(watch.samples, warmup_s),
        "samples": watch.samples,
    }
    folder.write_json(SOAK_FILE, data)
    return folder.path, data


def environment_entry() -> dict[str, Any]:
    return {"environment": environment(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
