"""Atomic JSON files: a reader (or a report rebuilt after a kill -9) never sees half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder and rename it over the name."""
    temporary = _temporary(path)
    temporary.write_text(json.dumps(data))
    temporary.replace(path)


def create_atomic(path: Path, text: str) -> None:
    """The same, refusing a name that exists (FileExistsError): a hard link never replaces."""
    temporary = _temporary(path)
    temporary.write_text(text)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink()
