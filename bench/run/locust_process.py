"""Locust as a child process of the harness: its headless command line, its start on the load
generator's CPUs, and its stop (SIGTERM, so that it writes its reports and our record)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pipeline.paths import ROOT
from stack.runner import spawn

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
# Beyond its schedule, a Locust run gets this long to finish before it is stopped.
LOCUST_GRACE_S = 30.0


def locust_command(
    url: str, options: dict[str, object], locustfile: Path = LOCUSTFILE
) -> list[str]:
    """A headless Locust command line: `--name value` for each option (True: a bare flag)."""
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url]
    for name, value in options.items():
        argv += [name] if value is True else [name, str(value)]
    return argv


def recording(out: Path) -> dict[str, object]:
    """The options of a headless run that writes its exact-latency record and Locust's JSON into
    `out`, quietly, whatever the system under test answered (its errors are data)."""
    return {
        "--record-file": out / "latency.json",
        "--json-file": out / "locust",
        "--exit-code-on-error": 0,
        "--only-summary": True,
        "--loglevel": "WARNING",
    }


def start_locust(
    argv: list[str], cpus: list[int], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start Locust on the generator's CPUs, in its own process group, dying with us."""

    return spawn(argv, env or {}, log, lambda: os.sched_setaffinity(0, cpus))


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 2.0) -> None:
    """Stop Locust's process group: SIGTERM (Locust then writes its reports and our record),
    SIGKILL after a grace period. Not SIGINT: gevent raises it in whichever greenlet runs."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
