"""`archbench ui`: a stack plus Locust's web UI on the generator CPU, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.load import payloads
from bench.measure.process import STACK_PIDS_ENV
from bench.run.locust_process import distribution, start_locust, stop_group
from pipeline.paths import DEFAULT_MODEL_DIR, LOG_ROOT, ROOT
from stack.budget import generator_cpus
from stack.runner import Stack, StackError, port_free, terminate_as_interrupt
from stack.topology import DEFAULT_PORT, Budget

LOCUSTFILE = ROOT / "bench" / "load" / "ui_locustfile.py"
# How the Resources tab learns the services' PIDs: JSON {"service": pid}.
DEFAULT_WEB_PORT = 8089
UI_READY_TIMEOUT_S = 30.0


def locust_argv(url: str, web_port: int, model_dir: Path, workers: int = 0) -> list[str]:
    """Locust's web UI on `web_port` driving `url` with payloads made from `model_dir`; with
    `workers`, a master whose forked workers share the open-loop schedule."""
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", url,
        "--web-host", "127.0.0.1", "--web-port", str(web_port), "--class-picker",
        "--model-dir", str(model_dir),
    ]  # fmt: skip
    for name, value in distribution(workers).items():
        argv += [name, str(value)]
    return argv


def check_web_port(web_port: int, stack: Stack) -> None:
    """Fail with one line if the web port is taken now or would be by the stack."""
    for service in stack.services:
        if service.port == web_port:
            raise StackError(
                f"web port {web_port} is also the port of service {service.name!r}; "
                "choose another with --web-port"
            )
    if not port_free(web_port):
        raise StackError(f"web port {web_port} is already in use; choose another with --web-port")


def wait_for_ui(locust: subprocess.Popen[bytes], web_port: int, log: Path) -> None:
    """Wait until the web UI answers; raise StackError if Locust exits or takes too long."""
    deadline = time.monotonic() + UI_READY_TIMEOUT_S
    while True:
        code = locust.poll()
        if code is not None:
            raise StackError(f"Locust exited with code {code}; log: {log}", log)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise StackError(
                f"Locust's web UI did not answer within {UI_READY_TIMEOUT_S:.0f} s; log: {log}", log
            )
        time.sleep(0.1)


def main(
    arch: str,
    base_port: int = DEFAULT_PORT,
    web_port: int = DEFAULT_WEB_PORT,
    log_dir: Path | None = None,
    model_dir: Path = DEFAULT_MODEL_DIR,
    workers: int = 0,
) -> None:
    """Start the stack serving `model_dir` and Locust's web UI loading it with that bundle's
    records, print where they are, stop both on Ctrl-C/SIGTERM. A folder without a usable
    bundle: BundleError, before anything starts. `workers` forks that many Locust workers
    (bench.load.distributed: the open-loop shapes share their rate; the search runs on one)."""
    payloads.source(model_dir)
    budget = Budget()
    settings = {"model_dir": model_dir}
    stack = Stack(arch, base_port, budget, log_dir or LOG_ROOT / f"ui-{arch}", settings)
    check_web_port(web_port, stack)
    locust: subprocess.Popen[bytes] | None = None
    with terminate_as_interrupt():
        try:
            stack.start()
            log = stack.log_dir / "locust.log"
            argv = locust_argv(stack.url, web_port, model_dir, workers)
            env = {STACK_PIDS_ENV: json.dumps(stack.pids())}
            locust = start_locust(argv, generator_cpus(budget), log, env)
            wait_for_ui(locust, web_port, log)
            print(
                f"Locust UI at http://127.0.0.1:{web_port}  driving {arch} at {stack.url}  "
                f"serving {model_dir} (logs: {stack.log_dir}; Ctrl-C to stop)",
                flush=True,
            )
            exited: set[str] = set()
            while True:
                code = locust.poll()
                if code is not None:
                    raise StackError(f"Locust exited with code {code}; log: {log}", log)
                # A service that dies is worth watching (errors in the UI, "stopped" in the
                # Resources tab), so say so once and keep going.
                for name, process in stack.processes.items():
                    if name not in exited and process.poll() is not None:
                        exited.add(name)
                        print(
                            f"service {name!r} exited with code {process.returncode}; "
                            f"log: {stack.log_path(name)}",
                            file=sys.stderr,
                            flush=True,
                        )
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping", file=sys.stderr)
        finally:
            if locust is not None:
                stop_group(locust)
            stack.stop()
