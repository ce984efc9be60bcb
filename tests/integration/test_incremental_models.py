"""Incremental dbt runs, day by day and with a re-delivered old extract, equal a full refresh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.loader import load_partitions
from ingestion.sources import SOURCES
from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import (
    DBT_PROJECT_DIR,
    PROJECT_SEEDS_DIR,
    Settings,
    stage_reference_seeds,
)

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(employees=250, days=28, start=date(2026, 5, 4), seed=21)
DBT = str(Path(sys.executable).parent / "dbt")


def days(first: int, last: int) -> list[date]:
    return [CONFIG.start + timedelta(days=i) for i in range(first, last + 1)]


def load(settings: Settings, dates: list[date]) -> None:
    for source in SOURCES.values():
        list(load_partitions(settings.warehouse_path, settings.landing_dir, source, dates))


def dbt_build(settings: Settings, target: Path, *args: str) -> None:
    env = {**os.environ, **settings.dbt_environment()}
    result = subprocess.run(
        [
            DBT,
            "build",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def window(first: date, last: date) -> tuple[str, str]:
    return "--vars", json.dumps({"extract_date_from": str(first), "extract_date_to": str(last)})


def marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchall()
        ]
        return {
            t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").df() for t in sorted(tables)
        }
    finally:
        con.close()


def test_incremental_runs_give_the_same_marts_as_a_full_refresh(tmp_path):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)
    stage_reference_seeds(settings)
    target = tmp_path / "dbt_target"

    load(settings, days(0, 13))
    dbt_build(settings, target)  # the first run builds everything there is
    for day in days(14, 18):  # then one daily run per extract
        load(settings, [day])
        dbt_build(settings, target, *window(day, day))
    load(settings, days(19, 27))  # and a backfill of several days in one run
    dbt_build(settings, target, *window(days(19, 19)[0], days(27, 27)[0]))

    # An old extract is delivered again with changes: a better answer, a ticket resolved later.
    redelivered = days(3, 3)[0]
    survey = next((settings.landing_dir / "survey" / str(redelivered)).glob("*.csv"))
    frame = pd.read_csv(survey, dtype=str, keep_default_na=False)
    frame.loc[0, "happiness"] = "10" if frame.loc[0, "happiness"] != "10" else "0"
    frame.to_csv(survey, index=False)
    load(settings, [redelivered])
    dbt_build(settings, target, *window(redelivered, redelivered))

    incremental_copy = tmp_path / "incremental.duckdb"
    shutil.copyfile(settings.warehouse_path, incremental_copy)
    dbt_build(settings, target, "--full-refresh")

    incremental, full = marts(incremental_copy), marts(settings.warehouse_path)
    assert sorted(incremental) == sorted(full)
    assert len(full) == 11
    for table, frame in full.items():
        assert len(frame) > 0, table
        pd.testing.assert_frame_equal(
            incremental[table], frame, check_exact=False, rtol=1e-12, obj=table
        )
