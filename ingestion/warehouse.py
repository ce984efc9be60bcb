"""Connections to the DuckDB working warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

RAW_SCHEMA = "raw"
# raw.extract_loads: one row per source and extract date loaded (ingestion/loader.py).
EXTRACT_LOADS = "extract_loads"
# DuckDB takes 80 % of the machine's memory by default and spills to disk beyond its limit; a
# bound keeps the whole pipeline (Dagster, dbt and DuckDB in one tree) inside a small machine.
# dbt's connection reads the same variable (dbt_project/profiles.yml).
MEMORY_LIMIT_ENV = "XMO_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "3GB"


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; all bucketing and timestamp parsing is in UTC.

    DuckDB allows one writing process per file: callers that write must be serialised (the
    orchestration layer does it with a Dagster concurrency pool); readers pass read_only=True.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The working warehouse holds employee ids and survey comments: its folder (and with
        # it the write-ahead log beside the file) is its owner's alone.
        os.chmod(path.parent, 0o700)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        os.chmod(path, 0o600)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = $limit", {"limit": memory_limit()})
    return con


def memory_limit() -> str:
    return os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
