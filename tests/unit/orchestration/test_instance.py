"""The Dagster home xmo prepares: our dagster.yaml, kept current, and storage ready before start."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

import dagster as dg
import psycopg2
import pytest

from orchestration.instance import InstanceStorageError, dagster_yaml, ensure_dagster_home
from orchestration.settings import POSTGRES_URL_ENV, Settings, SettingsError
from tests.postgres_server import postgres_server


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


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_a_home_on_postgres_keeps_runs_events_and_schedules_there_and_no_password_on_disk(
    tmp_path, postgres_url, monkeypatch
):
    url = postgres_url.replace("xmo@", "xmo:s3cret-pw@")  # trust auth: any password is taken
    monkeypatch.setenv(POSTGRES_URL_ENV, url)
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path), POSTGRES_URL_ENV: url})

    home = ensure_dagster_home(settings)

    text = (home / "dagster.yaml").read_text()
    assert "s3cret-pw" not in text and f"env: {POSTGRES_URL_ENV}" in text
    assert not (home / "history").exists() and not (home / "schedules").exists()
    with (
        psycopg2.connect(postgres_url.replace("+psycopg2", "")) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = {name for (name,) in cursor.fetchall()}
    assert {"runs", "event_logs", "jobs", "concurrency_slots"} <= tables
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"


@pytest.mark.parametrize(
    "password",
    # libpq quotes a URL it cannot parse in its error (an invalid %-escape here).
    ["s3cret-pw", "s3cret%zzpw"],
)
def test_an_unreachable_postgres_is_a_clear_error_without_the_password(
    tmp_path, monkeypatch, password
):
    url = f"postgresql+psycopg2://xmo:{password}@127.0.0.1:{_closed_port()}/dagster"
    monkeypatch.setenv(POSTGRES_URL_ENV, url)
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path), POSTGRES_URL_ENV: url})

    with pytest.raises(InstanceStorageError) as error:
        ensure_dagster_home(settings)

    message = str(error.value)
    assert "s3cret" not in message and "zzpw" not in message
    assert f"{POSTGRES_URL_ENV}: 127.0.0.1:" in message and "/dagster" in message
    assert "Connection refused" in message


@pytest.mark.parametrize(
    "url",
    # Another database; a bare postgresql:// (SQLAlchemy 2.1 would look for psycopg 3).
    ["mysql://u:s3cret-pw@h/db", "postgresql://u:s3cret-pw@h:5432/db"],
)
def test_a_postgres_url_dagster_cannot_use_is_refused_without_showing_it(tmp_path, url):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"XMO_DATA_DIR": str(tmp_path), POSTGRES_URL_ENV: url})
    assert POSTGRES_URL_ENV in str(error.value) and "s3cret-pw" not in str(error.value)
    assert "postgresql+psycopg2://" in str(error.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def test_a_run_whose_process_died_frees_its_pool_slot_and_is_retried_once(tmp_path):
    """Found by the soak: a run worker killed during a load left its run failed but its step's
    `xmo_warehouse` slot claimed, and every later run waited for the warehouse for ever."""
    home = ensure_dagster_home(Settings.from_env({"XMO_DATA_DIR": str(tmp_path)}))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_monitoring_enabled
        assert 0 < instance.run_monitoring_settings["free_slots_after_run_end_seconds"] <= 60
        assert instance.run_monitoring_poll_interval_seconds <= 60
        # Should the code server die with the run, only the runtime limit ends it.
        assert instance.run_monitoring_max_runtime_seconds == 12 * 3600
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 1)
        # A run that failed at a step or a gate is not retried: it alerts and waits.
        assert instance.run_retries_retry_on_asset_or_op_failure is False
