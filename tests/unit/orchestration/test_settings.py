"""Configuration defaults that work, and the reference-data overlay dbt reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.declared_sources import write_sources_file
from ingestion.warehouse import connect
from orchestration.settings import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    stage_reference_seeds,
)


def test_defaults_put_everything_under_the_project_data_dir():
    settings = Settings.from_env({})
    assert settings.data_dir == PROJECT_ROOT / "data"
    assert settings.warehouse_path == PROJECT_ROOT / "data" / "warehouse" / "xmo.duckdb"
    assert settings.reporting_path == PROJECT_ROOT / "data" / "reporting" / "xmo_reporting.duckdb"
    assert settings.dagster_home == PROJECT_ROOT / "data" / "dagster_home"


def test_every_source_is_declared_unless_the_organisation_says_otherwise(tmp_path):
    data_dir = tmp_path / "data"
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    assert settings.sources == ("survey", "itsm", "directory", "device")
    assert settings.undeclared_sources == () and settings.daily_sources == (
        "survey",
        "itsm",
        "device",
    )
    # The data dir's sources.yml declares them; names in any order and case.
    write_sources_file(data_dir / "sources.yml", ["ITSM", " survey"])
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    assert settings.sources == ("survey", "itsm")
    assert settings.undeclared_sources == ("directory", "device")
    assert settings.daily_sources == ("survey", "itsm")
    # XMO_SOURCES takes precedence over the file.
    env = {"XMO_DATA_DIR": str(data_dir), "XMO_SOURCES": "itsm, directory device"}
    assert Settings.from_env(env).sources == ("itsm", "directory", "device")


def test_a_sources_declaration_that_cannot_be_used_says_what_to_write(tmp_path):
    with pytest.raises(SettingsError, match=r"itsm is required .* e\.g\. itsm,survey"):
        Settings.from_env({"XMO_SOURCES": "survey"})
    with pytest.raises(SettingsError, match=r"unknown source\(s\) telemetry; use survey, itsm"):
        Settings.from_env({"XMO_SOURCES": "itsm telemetry"})
    (tmp_path / "sources.yml").write_text("sources: itsm\n")
    with pytest.raises(
        SettingsError, match=r"sources\.yml: expected `sources:` followed by a list"
    ):
        Settings.from_env({"XMO_DATA_DIR": str(tmp_path)})


def test_a_relative_data_dir_is_resolved_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"XMO_DATA_DIR": "exports"}).data_dir == tmp_path / "exports"


def test_dbt_reads_the_warehouse_and_a_seed_folder_inside_its_project(settings):
    env = settings.dbt_environment()
    assert env["XMO_WAREHOUSE_PATH"] == str(settings.warehouse_path)
    # Relative and inside dbt_project: dbt writes compiled seeds to target/run/<seed path>,
    # which for a path outside the project would overwrite the seed file itself.
    reference = Path(env["XMO_REFERENCE_DIR"])
    assert not reference.is_absolute()
    assert (DBT_PROJECT_DIR / reference).resolve().is_relative_to(DBT_PROJECT_DIR / "target")


def test_the_data_dirs_reference_files_override_the_project_seeds(settings):
    settings.reference_dir.mkdir(parents=True)
    (settings.reference_dir / "service_catalog.csv").write_text(
        "service_id,service_name,service_owner,xm_scope_start\nS1,Only,Me,2026-01-05\n"
    )
    staged = stage_reference_seeds(settings)
    assert (staged / "service_catalog.csv").read_text().endswith("S1,Only,Me,2026-01-05\n")
    # Files the data dir does not provide come from the project's seeds.
    assert (staged / "channel_mapping.csv").read_text().startswith("contact_type,channel")


def test_two_data_dirs_stage_their_seeds_apart(tmp_path):
    a = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "a")})
    b = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "b")})
    assert a.staged_seeds_dir != b.staged_seeds_dir


def test_automation_and_thresholds_come_from_the_environment():
    settings = Settings.from_env(
        {
            "XMO_TIMEZONE": "Europe/Helsinki",
            "XMO_DAILY_RUN_AT": "05:30",
            "XMO_MIN_RESPONSES": "10",
            "XMO_BASELINE_WEEKS": "8",
            "XMO_AUTOMATION": "on",
            "XMO_UI_PORT": "3010",
            "XMO_LANDING_POLL_SECONDS": "15",
        }
    )
    assert settings.landing_poll_seconds == 15
    assert settings.timezone == "Europe/Helsinki"
    assert (settings.daily_run_at.hour, settings.daily_run_at.minute) == (5, 30)
    assert settings.dbt_vars() == {"min_responses": 10, "baseline_weeks": 8}
    assert settings.automation_on
    assert settings.ui_url == "http://127.0.0.1:3010"
    defaults = Settings.from_env({})
    assert (
        defaults.timezone,
        defaults.automation_on,
        defaults.alert_webhook,
        defaults.landing_poll_seconds,
    ) == ("UTC", False, None, 60)
    assert defaults.dbt_vars() == {"min_responses": 5, "baseline_weeks": 12}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("XMO_TIMEZONE", "Mars/Olympus"),
        ("XMO_DAILY_RUN_AT", "6 o'clock"),
        ("XMO_MIN_RESPONSES", "0"),
        ("XMO_LANDING_POLL_SECONDS", "0"),
        ("XMO_AUTOMATION", "maybe"),
        ("XMO_DUCKDB_MEMORY_LIMIT", "lots"),
        ("XMO_DBT_TARGET", "spark_http"),
        ("XMO_SPARK_WAREHOUSE_DIR", "relative/warehouse"),
        ("XMO_SOURCES", "itsm,telemetry"),
        ("XMO_SOURCES", "survey,device"),
    ],
)
def test_a_bad_setting_is_named_in_a_clear_error(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_duckdb_memory_limit_reaches_dbt_and_the_loads(tmp_path, monkeypatch):
    settings = Settings.from_env({"XMO_DUCKDB_MEMORY_LIMIT": "1500MB"})
    assert settings.dbt_environment()["XMO_DUCKDB_MEMORY_LIMIT"] == "1500MB"
    monkeypatch.setenv("XMO_DUCKDB_MEMORY_LIMIT", "1500MB")
    with connect(tmp_path / "w.duckdb") as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit == "1.3 GiB"  # 1500 MB, as DuckDB reports it


def test_happysignals_settings_have_documented_defaults_and_never_hold_the_token():
    defaults = Settings.from_env({"XMO_HAPPYSIGNALS_TOKEN": "secret-T0ken"})
    assert defaults.happysignals_url is None
    assert (
        defaults.happysignals_endpoint,
        defaults.happysignals_updated_field,
        defaults.happysignals_page_param,
        defaults.happysignals_token_encoding,
    ) == ("responses", "updated_at", "page", "base64")
    assert "secret-T0ken" not in repr(defaults)
    custom = Settings.from_env(
        {
            "XMO_HAPPYSIGNALS_URL": "https://acme.eu.happysignals.com/api/v2",
            "XMO_HAPPYSIGNALS_ENDPOINT": "ticket-responses",
            "XMO_HAPPYSIGNALS_UPDATED_FIELD": "modified",
            "XMO_HAPPYSIGNALS_PAGE_PARAM": "p",
            "XMO_HAPPYSIGNALS_TOKEN_ENCODING": "plain",
        }
    )
    assert custom.happysignals_endpoint == "ticket-responses"
    assert custom.happysignals_updated_field == "modified"
    assert custom.happysignals_page_param == "p" and custom.happysignals_token_encoding == "plain"
    assert custom.happysignals_state_path == custom.data_dir / "state/happysignals_watermark.json"
    with pytest.raises(SettingsError, match="XMO_HAPPYSIGNALS_TOKEN_ENCODING='hex'"):
        Settings.from_env({"XMO_HAPPYSIGNALS_TOKEN_ENCODING": "hex"})


def test_nexthink_settings_have_documented_defaults_and_never_hold_the_credentials():
    defaults = Settings.from_env(
        {"XMO_NEXTHINK_CLIENT_ID": "xmo-pipeline", "XMO_NEXTHINK_CLIENT_SECRET": "Nx-S3cret"}
    )
    assert defaults.nexthink_url is None and defaults.nexthink_token_url is None
    assert (defaults.nexthink_query_id, defaults.nexthink_api_version) == ("#xmo_device_day", "v1")
    assert defaults.nexthink_day_parameter is None
    assert "Nx-S3cret" not in repr(defaults) and "xmo-pipeline" not in repr(defaults)
    custom = Settings.from_env(
        {
            "XMO_NEXTHINK_URL": "https://acme.api.eu.nexthink.cloud",
            "XMO_NEXTHINK_QUERY_ID": "#xmo_devices",
            "XMO_NEXTHINK_API_VERSION": "v2",
            "XMO_NEXTHINK_DAY_PARAMETER": "day",
        }
    )
    assert custom.nexthink_url == "https://acme.api.eu.nexthink.cloud"
    assert (custom.nexthink_query_id, custom.nexthink_api_version) == ("#xmo_devices", "v2")
    assert custom.nexthink_day_parameter == "day"
    with pytest.raises(SettingsError, match="XMO_NEXTHINK_DAY_PARAMETER='\\$day'"):
        Settings.from_env({"XMO_NEXTHINK_DAY_PARAMETER": "$day"})


@pytest.mark.parametrize("target", ["spark", "spark_thrift"])
def test_both_spark_targets_read_spark_tables_through_the_catalog(tmp_path, target):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path), "XMO_DBT_TARGET": target})
    assert settings.on_spark and settings.writes_raw_parquet
    assert settings.models_path == tmp_path / "spark" / "catalog.duckdb"
    assert settings.spark_warehouse_dir == tmp_path / "spark" / "warehouse"
    duckdb_settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path)})
    assert not duckdb_settings.writes_raw_parquet
    assert duckdb_settings.models_path == duckdb_settings.warehouse_path


def test_a_clusters_warehouse_dir_reaches_dbt_and_the_catalog(tmp_path):
    cluster_warehouse = tmp_path / "mnt" / "warehouse"
    settings = Settings.from_env(
        {
            "XMO_DATA_DIR": str(tmp_path / "data"),
            "XMO_DBT_TARGET": "spark_thrift",
            "XMO_SPARK_WAREHOUSE_DIR": str(cluster_warehouse),
        }
    )
    assert settings.spark_warehouse_dir == cluster_warehouse
    assert settings.dbt_environment()["XMO_SPARK_WAREHOUSE_DIR"] == str(cluster_warehouse)
    assert settings.dbt_environment()["XMO_DBT_TARGET"] == "spark_thrift"
