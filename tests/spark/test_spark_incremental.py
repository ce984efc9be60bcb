"""Incremental runs on Spark equal a full refresh on Spark: the scenario of the DuckDB test
(tests/integration/incremental_scenario.py: daily runs, a backfill, old days delivered again
changed and with rows removed) through the Thrift server of the session's cluster
(tests/spark/conftest.py). On Spark the incremental models replace whole partitions
(dbt_project/macros/incremental.sql)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.settings import Settings
from quality.spark_catalog import write_spark_catalog
from tests.integration.incremental_scenario import (
    CONFIG,
    Engine,
    assert_equal_to_a_full_refresh,
    assert_the_removed_rows_are_gone,
    build_incrementally,
)
from tests.integration.warehouse import dbt_build, load, query, schema_tables
from tests.spark.cluster import thrift_environment

pytestmark = pytest.mark.spark

# The staging device snapshots are a view: Spark keeps it as SQL in its metastore, with no files
# for the catalog to read.
COUNTS = {"marts": 14, "staging": 3, "intermediate": 7}
# Seeds and models; the data tests run in the pipeline test (test_spark_matches_duckdb).
MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
# The incremental models and what they are built from: every run but the last leaves the marts
# (tables rebuilt whole on every run) to the last.
INCREMENTAL_MODELS = ("--select", "+config.materialized:incremental")


def files(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.glob("*.parquet")}


def spark_engine(
    settings: Settings, target: Path, untouched_weeks_checked: list[tuple[str, ...]]
) -> Engine:
    # The device weeks of the first week: no run after the first one touches that week, so an
    # incremental run leaves its files as they are, where a rebuild in full writes them anew.
    first_week = (
        settings.spark_warehouse_dir
        / "intermediate.db"
        / "int_device_weeks_summed"
        / f"week_start={CONFIG.start}"
    )

    def build(*args: str) -> None:
        dbt_build(settings, target, *MODELS_ONLY, *args)
        write_spark_catalog(
            settings.spark_catalog_path, settings.spark_warehouse_dir, settings.raw_parquet_dir
        )

    def build_step(*args: str) -> None:
        before = files(first_week)  # none before the first run
        build(*INCREMENTAL_MODELS, *args)
        if before:
            assert files(first_week) == before, "the run rewrote a week it did not touch"
            untouched_weeks_checked.append(args)

    return Engine(
        load=lambda dates: load(settings, dates),
        build=build,
        build_step=build_step,
        query=lambda sql, params: query(settings.spark_catalog_path, sql, params),
        tables=lambda schema: schema_tables(settings.spark_catalog_path, schema),
        device_history=("intermediate.int_device_days_scored",),
    )


def test_incremental_runs_on_the_cluster_equal_a_full_refresh(tmp_path, spark_thrift):
    settings = Settings.from_env(
        {"XMO_DATA_DIR": str(tmp_path / "data"), **thrift_environment(spark_thrift)}
    )
    untouched_weeks_checked: list[tuple[str, ...]] = []
    engine = spark_engine(settings, tmp_path / "dbt_target", untouched_weeks_checked)
    # One daily run, and no run for a day delivered again with changes only: the last run's
    # day both loses and changes rows (each run costs about 40 s on the cluster).
    built = build_incrementally(
        settings, engine, daily_runs=1, schemas=tuple(COUNTS), redeliver_changed=False
    )
    assert_the_removed_rows_are_gone(settings, engine, built)
    assert len(untouched_weeks_checked) == 2  # the daily run and the backfill

    engine.build("--full-refresh")
    assert_equal_to_a_full_refresh(engine, built, COUNTS, rtol=1e-9)
