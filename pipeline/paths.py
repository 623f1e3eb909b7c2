"""Where the project's files live: the checkout, model bundles, result folders and service logs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS_ROOT = ROOT / "models"
DEFAULT_MODEL_DIR = MODELS_ROOT / "demo"
RESULTS_ROOT = ROOT / "results"
LOG_ROOT = ROOT / "logs"


def variant_dir(variant: str) -> Path:
    """Where `archbench train --variant V` puts a model variant's bundle."""
    return MODELS_ROOT / variant
