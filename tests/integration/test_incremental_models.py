"""Incremental dbt runs, day by day and with old extracts delivered again (changed, or with rows
removed), equal a full refresh (the scenario: tests/integration/incremental_scenario.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.settings import Settings
from tests.integration.incremental_scenario import (
    Engine,
    assert_equal_to_a_full_refresh,
    assert_the_last_run_rebuilt_touched_periods_only,
    assert_the_removed_rows_are_gone,
    build_incrementally,
)
from tests.integration.warehouse import dbt_build, load, query, schema_tables

pytestmark = pytest.mark.integration

COUNTS = {"marts": 14, "staging": 4, "intermediate": 7}


def duckdb_engine(settings: Settings, target: Path) -> Engine:
    return Engine(
        load=lambda dates: load(settings, dates),
        build=lambda *args: dbt_build(settings, target, *args),
        query=lambda sql, params: query(settings.warehouse_path, sql, params),
        tables=lambda schema: schema_tables(settings.warehouse_path, schema),
    )


def test_incremental_runs_give_the_same_marts_as_a_full_refresh(tmp_path):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
    engine = duckdb_engine(settings, tmp_path / "dbt_target")
    built = build_incrementally(settings, engine, daily_runs=2, schemas=tuple(COUNTS))
    assert_the_removed_rows_are_gone(settings, engine, built)
    # The marts too were built by period (macros/touched_periods.sql), and equal a full refresh.
    assert_the_last_run_rebuilt_touched_periods_only(tmp_path / "dbt_target")

    # The full refresh sums the device weeks one week at a time (four chunks, not one): chunk
    # bounds must neither lose nor double a week.
    engine.build("--full-refresh", "--vars", json.dumps({"week_chunk_weeks": 1}))
    # Every model equals a full refresh: the published marts, and the incremental models
    # (staging, intermediate) they are built from.
    assert_equal_to_a_full_refresh(engine, built, COUNTS)
