"""A run folder read back: its meta.json, summary.json and raw records, versions checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.store.folder import ResultsError, read_json


@dataclass(frozen=True)
class StoredRun:
    """What a finished (or interrupted) bench run left in its folder."""

    path: Path
    meta: dict[str, Any]
    summary: dict[str, Any]
    _records: dict[str, dict[str, Any] | None] = field(default_factory=dict, compare=False)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta.get("config") or {})

    @property
    def slo_ms(self) -> float:
        # every run records its objective (BenchConfig.slo_ms) in meta.json
        return float(self.config["slo_ms"])

    @property
    def archs(self) -> list[str]:
        """The architectures with figures in this run, in the configured order."""
        measured = self.summary.get("by_arch") or {}
        ordered = [a for a in self.config.get("archs", []) if a in measured]
        return ordered + [a for a in measured if a not in ordered]

    def runs(self, scenario: str, arch: str) -> list[tuple[str, dict[str, Any]]]:
        """(key, per-run summary) of every repetition of a scenario on an architecture."""
        prefix = f"{scenario}/{arch}/"
        runs = self.summary.get("runs") or {}
        return sorted((k, v) for k, v in runs.items() if k.startswith(prefix))

    @property
    def perf(self) -> dict[str, Any] | None:
        """`archbench perf --into` this folder: its perf.json, None when absent."""
        path = self.path / "perf.json"
        return read_json(path) if path.is_file() else None

    def record(self, key: str) -> dict[str, Any] | None:
        """The raw latency record of one run (`scenario/arch/repN`), None when absent."""
        if key not in self._records:
            path = self.path / "raw" / key / "latency.json"
            self._records[key] = json.loads(path.read_text()) if path.exists() else None
        return self._records[key]


def open_run(path: Path) -> StoredRun:
    """Read a run folder; ResultsError (one line) when it is missing or of an unknown version."""
    if not path.is_dir():
        raise ResultsError(f"no run folder at {path}")
    for name in ("meta.json", "summary.json"):
        if not (path / name).is_file():
            hint = f" (`archbench report {path}` rebuilds it)" if name == "summary.json" else ""
            raise ResultsError(
                f"{path} has no {name}: not a run folder, or its run was killed before writing "
                f"it{hint}"
            )
    try:
        meta, summary = read_json(path / "meta.json"), read_json(path / "summary.json")
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: a result file is not valid JSON ({exc})") from None
    return StoredRun(path.resolve(), meta, summary)
