"""The Spark build as DuckDB views, so gates, profiles and publication read it as they read DuckDB.

On the spark target, dbt's tables are Parquet folders in Spark's warehouse
(`<warehouse>/<schema>.db/<table>/part-*.parquet`) and the raw tables are ingestion's Parquet
files (`<raw>/<table>/<date>.parquet`). A small DuckDB file holds one view per table over those
files, under the same schema and table names, so every reader keeps opening one database file.
The views read the files when queried: a rebuilt table or a new raw day needs no new catalog,
only a new table does.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

RAW_SCHEMA = "raw"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str, folder: Path) -> str:
    files = _quoted(str(folder / "*.parquet"))
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


def _tables(root: Path) -> dict[str, Path]:
    """Folders under root that hold Parquet files, by name: one table each."""
    if not root.is_dir():
        return {}
    return {
        folder.name: folder
        for folder in sorted(root.iterdir())
        if folder.is_dir() and any(folder.glob("*.parquet"))
    }


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
            for table, folder in tables.items():
                con.execute(_view_sql(con, schema, table, folder))
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
