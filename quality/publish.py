"""Write-audit-publish: copy validated marts to the reporting database and Parquet, atomically.

The new reporting database is written beside the old one and renamed over it, so a BI session
that has the old file open keeps reading it, and a new session sees the old or the new version,
never a mix. The file is written in DuckDB's v1.5.0 storage format so BI drivers that bundle
DuckDB 1.5 can open it.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

log = logging.getLogger(__name__)

STORAGE_VERSION = "v1.5.0"
MARTS_SCHEMA = "marts"
# The cockpit's Data health page: how the publication came about (never read by BI as marts).
HEALTH_SCHEMA = "health"


@dataclass(frozen=True)
class PublishResult:
    database: Path
    parquet_dir: Path
    rows: dict[str, int]


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def publish_marts(
    warehouse_path: Path,
    reporting_path: Path,
    parquet_dir: Path,
    tables: list[str],
    health: dict[str, pd.DataFrame] | None = None,
) -> PublishResult:
    """Publish `tables` of the warehouse's marts schema; returns rows per table.

    `health` frames (the run's gate verdicts, the publication itself) are written to the
    database's `health` schema beside the extract log (raw.extract_loads: rows read, loaded and
    quarantined per source and extract date), in the same atomic swap as the marts.
    """
    reporting_path.parent.mkdir(parents=True, exist_ok=True)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    staged_db = reporting_path.with_name(f".{reporting_path.name}.{token}.tmp")
    staged_parquet = parquet_dir.with_name(f".{parquet_dir.name}.{token}.tmp")
    staged_parquet.mkdir()
    rows: dict[str, int] = {}
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {_quote_path(warehouse_path)} AS warehouse (READ_ONLY)")
            con.execute(
                f"ATTACH {_quote_path(staged_db)} AS published "
                f"(STORAGE_VERSION '{STORAGE_VERSION}')"
            )
            con.execute(f"CREATE SCHEMA published.{MARTS_SCHEMA}")
            for table in tables:
                source = f"warehouse.{MARTS_SCHEMA}.{table}"
                con.execute(f"CREATE TABLE published.{MARTS_SCHEMA}.{table} AS FROM {source}")
                rows[table] = con.execute(
                    f"SELECT count(*) FROM published.{MARTS_SCHEMA}.{table}"
                ).fetchone()[0]
                target = staged_parquet / f"{table}.parquet"
                con.execute(f"COPY (FROM {source}) TO {_quote_path(target)} (FORMAT parquet)")
            _write_health(con, health or {})
            con.execute("DETACH published")
            con.execute("DETACH warehouse")
        finally:
            con.close()
        os.replace(staged_db, reporting_path)
        for table in tables:
            os.replace(staged_parquet / f"{table}.parquet", parquet_dir / f"{table}.parquet")
    finally:
        staged_db.unlink(missing_ok=True)
        Path(f"{staged_db}.wal").unlink(missing_ok=True)
        shutil.rmtree(staged_parquet, ignore_errors=True)
    log.info("published %s marts to %s: %s", len(tables), reporting_path, rows)
    return PublishResult(reporting_path, parquet_dir, rows)


def _write_health(con: duckdb.DuckDBPyConnection, health: dict[str, pd.DataFrame]) -> None:
    con.execute(f"CREATE SCHEMA published.{HEALTH_SCHEMA}")
    has_log = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'warehouse' "
        "AND schema_name = 'raw' AND table_name = 'extract_loads'"
    ).fetchall()[0][0]
    if has_log:
        con.execute(
            f"CREATE TABLE published.{HEALTH_SCHEMA}.extract_loads "
            "AS FROM warehouse.raw.extract_loads"
        )
    for name, frame in health.items():
        con.register("health_frame", frame)
        con.execute(f"CREATE TABLE published.{HEALTH_SCHEMA}.{name} AS FROM health_frame")
        con.unregister("health_frame")
