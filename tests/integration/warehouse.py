"""Building a warehouse without Dagster (raw loads, dbt), and reading it the way a BI tool
does: read-only, then closed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.loader import load_partitions
from ingestion.pseudonym_key import dbt_secrets, ensure_key
from ingestion.sources import SOURCES
from orchestration.settings import DBT_PROJECT_DIR, Settings

DBT = str(Path(sys.executable).parent / "dbt")


def load(settings: Settings, dates: list[date]) -> None:
    """Every source's extracts of `dates` into the raw tables (and their Parquet copy, which
    Spark reads, on a Spark target)."""
    parquet_dir = settings.raw_parquet_dir if settings.writes_raw_parquet else None
    for source in SOURCES.values():
        list(
            load_partitions(
                settings.warehouse_path,
                settings.landing_dir,
                source,
                dates,
                parquet_dir=parquet_dir,
            )
        )


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment the pipeline gives dbt: the settings' and the data dir's pseudonym key
    (created on first use, as a run does)."""
    return {
        **os.environ,
        **settings.dbt_environment(),
        **dbt_secrets(ensure_key(settings.data_dir)),
    }


def dbt_build(settings: Settings, target: Path, *args: str) -> None:
    """A real `dbt build` of the project over the settings' warehouse."""
    env = dbt_env(settings)
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


def schema_tables(path: Path, schema: str) -> dict[str, pd.DataFrame]:
    """Every table (or view) of a schema, by name, rows in one order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [schema],
            ).fetchall()
        ]
        return {
            t: con.execute(f"SELECT * FROM {schema}.{t} ORDER BY ALL").df() for t in sorted(names)
        }
    finally:
        con.close()


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
