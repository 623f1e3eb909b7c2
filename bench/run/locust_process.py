"""Locust as a child process of the harness: its headless command line, its start on the load
generator's CPUs, and its stop (SIGTERM, so that it writes its reports and our record)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from pipeline.paths import ROOT
from stack.runner import spawn

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
# Beyond its schedule, a Locust run gets this long to finish before it is stopped.
LOCUST_GRACE_S = 30.0
# How long a master waits for workers started on other machines before it gives up.
WORKERS_MAX_WAIT_S = 120


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


def distribution(workers: int, master_bind: str | None = None) -> dict[str, object]:
    """Locust's options for a master and `workers` workers (none for 0): forked on this machine
    (`--processes`, on the generator's CPUs, stopped with the master's process group) on a free
    loopback port, or, given `master_bind` (HOST:PORT), a master that waits for workers started
    elsewhere with `locust --worker --master-host HOST --master-port PORT`."""
    if workers <= 0:
        return {}
    if master_bind is not None:
        host, port = split_address(master_bind)
        return {
            "--master": True,
            "--expect-workers": workers,
            "--expect-workers-max-wait": WORKERS_MAX_WAIT_S,
            "--master-bind-host": host,
            "--master-bind-port": port,
        }
    port = free_port()
    # forked workers connect with the options they inherit: --master-port names the bound port
    return {
        "--processes": workers,
        "--master-bind-host": "127.0.0.1",
        "--master-bind-port": port,
        "--master-port": port,
    }


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT as a pair; ValueError names what is valid."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not HOST:PORT (a port 1-65535)")
    return host, int(port)


def free_port() -> int:
    """A loopback port free now (the kernel's choice, so parallel runs do not collide)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_locust(
    argv: list[str], cpus: list[int], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start Locust on the generator's CPUs, in its own process group, dying with us."""

    return spawn(argv, env or {}, log, lambda: os.sched_setaffinity(0, cpus))


def stop_grace_s(workers: int) -> float:
    """How long a stopped Locust gets to write its record: a master first gathers its workers'
    (bench.load.distributed waits up to RECORD_WAIT_S for them)."""
    return 12.0 if workers else 2.0


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
