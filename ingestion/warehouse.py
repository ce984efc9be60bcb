"""Connections to the DuckDB working warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb

RAW_SCHEMA = "raw"


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; all bucketing and timestamp parsing is in UTC.

    DuckDB allows one writing process per file: callers that write must be serialised (the
    orchestration layer does it with a Dagster concurrency pool); readers pass read_only=True.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    return con
