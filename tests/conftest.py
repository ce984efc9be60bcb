"""Shared fixtures: an isolated XMO data dir per test and a clean process environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.settings import DBT_PROJECT_DIR, Settings

STAGED_SEEDS = DBT_PROJECT_DIR / "target" / "xmo_reference"


@pytest.fixture(scope="session", autouse=True)
def _remove_staged_seed_folders_of_test_data_dirs() -> Iterator[None]:
    # Each data dir stages its seed folder inside dbt's target; tests make many data dirs.
    before = set(STAGED_SEEDS.iterdir()) if STAGED_SEEDS.exists() else set()
    yield
    if STAGED_SEEDS.exists():
        for folder in set(STAGED_SEEDS.iterdir()) - before:
            shutil.rmtree(folder, ignore_errors=True)


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
