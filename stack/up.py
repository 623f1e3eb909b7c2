"""`archbench up`: one stack until Ctrl-C or SIGTERM, restarting a service that dies."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import bundle as bundles
from pipeline.paths import DEFAULT_MODEL_DIR
from stack.runner import Stack, terminate_as_interrupt
from stack.supervisor import Restart


def _report_restart(restart: Restart) -> None:
    print(
        f"service {restart.service!r} exited with code {restart.exit_code}; restarted, ready "
        f"again after {restart.restart_s:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def run_until_interrupted(
    arch: str,
    base_port: int = 8000,
    model_dir: Path = DEFAULT_MODEL_DIR,
    secure_hops: bool = False,
    make: Callable[..., Stack] | None = None,
) -> None:
    """`archbench up`: start the stack serving the bundle in `model_dir`, print where it is,
    stop it all on Ctrl-C or SIGTERM; `make` builds the stack (stack.backends: local processes by
    default, or Docker). A service that dies is restarted, as compose's
    `restart: unless-stopped` would. A folder without a bundle: BundleError, before any start."""
    bundles.load(model_dir, with_model=False)
    settings = {"model_dir": model_dir}
    stack = (make or Stack)(
        arch,
        base_port,
        settings=settings,
        restart=True,
        on_restart=_report_restart,
        secure_hops=secure_hops,
    )
    with terminate_as_interrupt():
        try:
            stack.start()
        except KeyboardInterrupt:
            print("interrupted during start-up; every process stopped", file=sys.stderr)
            return
        try:
            applied = stack.applied
            print(
                f"{arch} ready at {stack.url}  serving {model_dir} ({len(stack.services)} "
                f"process(es){'; hops over mutual TLS' if secure_hops else ''}; "
                f"{stack.describe()}; budget: {applied.as_dict() if applied else 'none'}; "
                f"logs: {stack.log_dir})"
            )
            print("Ctrl-C to stop", flush=True)
            while True:
                stack.check_alive()
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping", file=sys.stderr)
        finally:
            stack.stop()
