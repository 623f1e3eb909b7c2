"""The live progress display of a bench run: phase, architecture, scenario, elapsed / remaining."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Display:
    """A rich progress bar on a terminal; one plain line per phase otherwise (logs, CI)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._done = 0.0
        self._started = time.monotonic()

    def start(self, total_s: float) -> None:
        self._started = time.monotonic()
        self._total = total_s
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("elapsed /"),
                TimeRemainingColumn(),
                TextColumn("remaining"),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=total_s)

    def phase(self, what: str, arch: str, scenario: str, rep: int) -> None:
        text = f"{what} · {arch} · {scenario} · rep {rep + 1}"
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)
        else:
            elapsed = time.monotonic() - self._started
            print(f"[{elapsed:6.1f} s of ~{self._total:.0f} s] {text}", file=sys.stderr, flush=True)

    def advance(self, seconds_into_job: float, done: bool = False) -> None:
        """Show progress within the current job; `done` banks the whole job."""
        if self._progress is None or self._task is None:
            if done:
                self._done += seconds_into_job
            return
        self._progress.update(self._task, completed=self._done + seconds_into_job)
        if done:
            self._done += seconds_into_job

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
