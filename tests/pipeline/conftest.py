"""Fixtures of the pipeline tests: the real bundles `archbench bundle` made (tests/bundles.py)."""

from __future__ import annotations

import pytest

from tests import bundles


@pytest.fixture(scope="session")
def made_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bundles.Made]:
    return bundles.made(tmp_path_factory)
