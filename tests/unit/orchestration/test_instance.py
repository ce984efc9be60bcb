"""The Dagster home xmo prepares: our dagster.yaml, kept current, and storage ready before start."""

from __future__ import annotations

import sqlite3

from orchestration.instance import dagster_yaml, ensure_dagster_home
from orchestration.settings import Settings


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_a_new_home_has_its_storage_created_before_any_dagster_process_starts(tmp_path):
    home = ensure_dagster_home(Settings.from_env({"XMO_DATA_DIR": str(tmp_path)}))

    # The webserver and the daemon start together; if neither found the tables, both would
    # create them and one would die on "table jobs already exists" (seen in CI).
    assert "jobs" in _tables(home / "schedules" / "schedules.db")
    assert "runs" in _tables(home / "history" / "runs.db")
    assert (home / "dagster.yaml").read_text() == dagster_yaml(home)


def test_a_dagster_yaml_written_by_a_person_is_left_alone(tmp_path):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path)})
    settings.dagster_home.mkdir(parents=True)
    own = "telemetry:\n  enabled: false\n"
    (settings.dagster_home / "dagster.yaml").write_text(own)

    ensure_dagster_home(settings)

    assert (settings.dagster_home / "dagster.yaml").read_text() == own
