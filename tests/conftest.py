"""Shared fixtures: an isolated XMO data dir per test and a clean process environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.settings import DBT_PROJECT_DIR, Settings
from tests import postgres_server

STAGED_SEEDS = DBT_PROJECT_DIR / "target" / "xmo_reference"


@pytest.fixture(scope="session", autouse=True)
def _remove_staged_seed_folders_of_test_data_dirs() -> Iterator[None]:
    # Each data dir stages its seed folder inside dbt's target; tests make many data dirs.
    before = set(STAGED_SEEDS.iterdir()) if STAGED_SEEDS.exists() else set()
    yield
    if STAGED_SEEDS.exists():
        for folder in set(STAGED_SEEDS.iterdir()) - before:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_tests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No Dagster process (webserver, daemon, code server, run worker) over a data dir of the
    tests, and no PostgreSQL server they started, is left when the session ends."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    left = [
        f"{pid}: {command}"
        for pid, command, environ in _processes()
        if f"DAGSTER_HOME={base}{os.sep}".encode() in environ
        or any(str(root).encode() in command for root in postgres_server.CREATED)
    ]
    assert left == [], f"processes left behind by the tests: {left}"


def _processes() -> Iterator[tuple[int, bytes, bytes]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if command:  # not a zombie (exited; init reaps it)
            yield int(entry.name), command, environ


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
