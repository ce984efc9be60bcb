"""Queries of the published reporting database, one short-lived read-only connection each.

A process that keeps a DuckDB connection to a path open keeps reading the old file after the
publisher renames a new one over it; opening a connection per query is what lets the cockpit
show a new publication at the next interaction, and a reader never holds the publisher up.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

# Where the cockpit looks: the publisher's reporting database ($XMO_DATA_DIR/reporting/...).
REPORTING_PATH_ENV = "XMO_REPORTING_PATH"


class NothingPublished(Exception):
    """No reporting database yet: the pipeline has not published."""


def reporting_path() -> Path:
    """$XMO_REPORTING_PATH, else the reporting database of $XMO_DATA_DIR (default ./data)."""
    explicit = os.environ.get(REPORTING_PATH_ENV)
    if explicit:
        return Path(explicit)
    data_dir = Path(os.environ.get("XMO_DATA_DIR", "data"))
    return data_dir / "reporting" / "xmo_reporting.duckdb"


def frame(sql: str, params: list[Any] | None = None, path: Path | None = None) -> pd.DataFrame:
    """Run one query on the published marts; the connection is closed before returning."""
    path = path or reporting_path()
    if not path.exists():
        raise NothingPublished(f"nothing published yet at {path}: run `xmo run` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def value(sql: str, params: list[Any] | None = None, path: Path | None = None) -> Any:
    result = frame(sql, params, path)
    return None if result.empty else result.iat[0, 0]


def as_date(x: Any) -> date | None:
    if x is None or (isinstance(x, float) and pd.isna(x)) or x is pd.NaT:
        return None
    return pd.Timestamp(x).date()


def has_table(schema: str, table: str, path: Path | None = None) -> bool:
    return bool(
        value(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
            path,
        )
    )
