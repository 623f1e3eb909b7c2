"""Write-once result folders: `results/<UTC timestamp>-<label>/`, with `results/latest` beside.

Every JSON file carries a schema version; readers refuse versions they do not know.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.atomic import create_atomic, write_atomic
from pipeline.bundler import versions
from pipeline.errors import UserError
from pipeline.paths import RESULTS_ROOT, ROOT

__all__ = ["RunFolder", "ResultsError", "read_json", "environment", "write_atomic"]

SCHEMA_VERSION = 1
PACKAGES = (
    "locust",
    "hdrhistogram",
    "fastapi",
    "uvicorn",
    "uvloop",
    "httptools",
    "aiohttp",
    "flask",
    "gunicorn",
    "scikit-learn",
    "numpy",
    "msgspec",
)


class ResultsError(UserError):
    """A result folder or file cannot be written or read as asked."""


class RunFolder:
    """One run's folder; files are created once and never overwritten."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(
        cls, label: str, root: Path = RESULTS_ROOT, now: datetime | None = None
    ) -> RunFolder:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", label):
            raise ResultsError(f"label {label!r} may only hold letters, digits, '.', '_' and '-'")
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        path = root / f"{stamp}-{label}"
        root.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
        except FileExistsError:
            raise ResultsError(
                f"{path} already exists; a run folder is never overwritten"
            ) from None
        folder = cls(path)
        folder._point_latest()
        return folder

    def _point_latest(self) -> None:
        latest = self.path.parent / "latest"
        temporary = self.path.parent / f".latest-{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(self.path.name)
        temporary.replace(latest)

    def file(self, relative: str) -> Path:
        """A path inside the folder (parents created); refuses one that exists."""
        path = self.path / relative
        if path.exists():
            raise ResultsError(f"{path} exists; a run folder is write-once")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, relative: str, data: dict[str, Any]) -> Path:
        path = self.file(relative)
        text = json.dumps({"schema_version": SCHEMA_VERSION, **data}, indent=2, default=str)
        try:
            create_atomic(path, text)
        except FileExistsError:
            raise ResultsError(f"{path} exists; a run folder is write-once") from None
        return path


def read_json(path: Path) -> dict[str, Any]:
    """Read a result file, refusing a schema version this code does not know."""
    data = json.loads(path.read_text())
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: schema version {version!r}, this archbench reads {SCHEMA_VERSION}"
        )
    return data


def environment() -> dict[str, Any]:
    """Machine, software and source facts for meta.json."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions(PACKAGES),
        "git": _git(),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }
