"""Raw partitions as Parquet files, for engines that do not read the DuckDB warehouse (Spark).

The rows are the loaded raw table's: the landing contracts have been applied and quarantined
rows are not there. One file per table and extract date, `<root>/<table>/<YYYY-MM-DD>.parquet`,
replaced whole when a partition is reloaded, so a rerun never duplicates a day; Spark reads the
table folder as one external table (dbt_project/macros/raw_sources.sql).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb

from ingestion.sources import SOURCES, Source
from ingestion.warehouse import RAW_SCHEMA, connect


def partition_file(root: Path, table: str, extract_date: date) -> Path:
    return root / table / f"{extract_date.isoformat()}.parquet"


def write_partition(
    con: duckdb.DuckDBPyConnection, root: Path, table: str, extract_date: date
) -> Path:
    """Write one extract date of raw.<table> to its file (removed when the date has no rows)."""
    target = partition_file(root, table, extract_date)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = con.execute(
        f"SELECT count(*) FROM {RAW_SCHEMA}.{table} WHERE _extract_date = $d", {"d": extract_date}
    ).fetchone()[0]
    if rows == 0:
        # A day reloaded empty must not keep its old rows in the Parquet copy.
        target.unlink(missing_ok=True)
        return target
    staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    con.execute(
        f"COPY (SELECT * FROM {RAW_SCHEMA}.{table} WHERE _extract_date = $d "
        f"ORDER BY _source_file, _source_line) TO '{staged}' (FORMAT parquet)",
        {"d": extract_date},
    )
    os.replace(staged, target)  # readers see the old day or the new one, never half a file
    return target


# An empty table still needs one file: Spark infers a Parquet table's columns from its files.
EMPTY_TABLE_FILE = "no_extracts.parquet"


def write_empty_table(con: duckdb.DuckDBPyConnection, root: Path, table: str) -> Path:
    """Replace every file of raw.<table> with one file of its columns and no rows (a source the
    organisation does not deliver)."""
    folder = root / table
    if folder.is_dir():
        for old in folder.glob("*.parquet"):
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / EMPTY_TABLE_FILE
    con.execute(f"COPY (SELECT * FROM {RAW_SCHEMA}.{table} LIMIT 0) TO '{target}' (FORMAT parquet)")
    return target


def write_whole_table(con: duckdb.DuckDBPyConnection, root: Path, table: str) -> Path:
    """raw.<table> as one file, replaced whole (the extract log, a few rows per day)."""
    target = root / table / f"{table}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    con.execute(f"COPY (SELECT * FROM {RAW_SCHEMA}.{table}) TO '{staged}' (FORMAT parquet)")
    os.replace(staged, target)
    return target


def write_table(con: duckdb.DuckDBPyConnection, root: Path, table: str) -> int:
    """Write every extract date of raw.<table>; the number of days written."""
    dates = [
        d
        for (d,) in con.execute(
            f"SELECT DISTINCT _extract_date FROM {RAW_SCHEMA}.{table} ORDER BY 1"
        ).fetchall()
    ]
    for extract_date in dates:
        write_partition(con, root, table, extract_date)
    return len(dates)


def export_raw_parquet(
    warehouse_path: Path, root: Path, sources: Iterable[Source] = SOURCES.values()
) -> dict[str, int]:
    """Write every extract date of every raw table; the number of files written per table."""
    con = connect(warehouse_path, read_only=True)
    try:
        return {
            source.contract.table: write_table(con, root, source.contract.table)
            for source in sources
        }
    finally:
        con.close()
