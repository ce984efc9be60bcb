"""Shared fixtures: an isolated XMO data dir per test and a clean process environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.settings import Settings


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    # Definitions export the dbt environment into os.environ; keep tests from leaking it.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
