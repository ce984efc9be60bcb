"""The Spark build as DuckDB views, so gates, profiles and publication read it as they read DuckDB.

On a Spark target, dbt's tables are Parquet folders in Spark's warehouse
(`<warehouse>/<schema>.db/<table>/part-*.parquet`, or one folder deeper per partition for the
incremental models, `<table>/extract_date=2026-06-01/part-*.parquet`) and the raw tables are
ingestion's Parquet files (`<raw>/<table>/<date>.parquet`). A small DuckDB file holds one view
per table over those files, under the same schema and table names, so every reader keeps
opening one database file. The views read the files when queried: a rebuilt table or a new raw
day needs no new catalog, only a new table does.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

RAW_SCHEMA = "raw"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# Spark's scratch table of an incremental run (macros/incremental.sql), left by a failed run.
SCRATCH_SUFFIX = "__dbt_rows"


def _files(folder: Path) -> str | None:
    """read_parquet's arguments for a table folder: its files, or its partitions' (Hive style,
    the partition column read from the folder names, its type inferred); None without data."""
    if any(folder.glob("*.parquet")):
        return _quoted(str(folder / "*.parquet"))
    if any(folder.glob("*=*/*.parquet")):
        return _quoted(str(folder / "*=*" / "*.parquet")) + ", hive_partitioning = true"
    return None


def _view_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str, files: str) -> str:
    columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet({files})").fetchall()
    # Spark writes timestamps as instants (UTC-adjusted); the DuckDB build has UTC wall-clock
    # TIMESTAMPs, and the published marts must not change type with the engine.
    select = ", ".join(
        f'timezone(\'UTC\', "{name}") AS "{name}"'
        if data_type == "TIMESTAMP WITH TIME ZONE"
        else f'"{name}"'
        for name, data_type, *_ in columns
    )
    return f'CREATE VIEW "{schema}"."{table}" AS SELECT {select} FROM read_parquet({files})'


def _tables(root: Path) -> dict[str, str]:
    """Folders under root that hold Parquet files (read_parquet's arguments), by name: one table
    each."""
    if not root.is_dir():
        return {}
    tables = {}
    for folder in sorted(root.iterdir()):
        files = _files(folder) if folder.is_dir() else None
        if files and not folder.name.endswith(SCRATCH_SUFFIX):
            tables[folder.name] = files
    return tables


def write_spark_catalog(
    catalog_path: Path, spark_warehouse_dir: Path, raw_parquet_dir: Path
) -> int:
    """(Re)write the catalog of every table there is; returns the number of views."""
    schemas = {RAW_SCHEMA: _tables(raw_parquet_dir)}
    for schema, schema_dir in _schema_dirs(spark_warehouse_dir).items():
        schemas.setdefault(schema, {}).update(_tables(schema_dir))
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    staged = catalog_path.with_name(f".{catalog_path.name}.{os.getpid()}.tmp")
    staged.unlink(missing_ok=True)
    views = 0
    con = duckdb.connect(str(staged))
    try:
        for schema, tables in schemas.items():
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for table, files in tables.items():
                con.execute(_view_sql(con, schema, table, files))
                views += 1
    finally:
        con.close()
    os.replace(staged, catalog_path)  # readers see the old catalog or the new one
    return views


def _schema_dirs(spark_warehouse_dir: Path) -> dict[str, Path]:
    """Spark's schema folders (`<schema>.db`), by schema."""
    if not spark_warehouse_dir.is_dir():
        return {}
    return {
        folder.name.removesuffix(".db"): folder
        for folder in sorted(spark_warehouse_dir.glob("*.db"))
        if folder.is_dir()
    }
