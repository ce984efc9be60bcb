"""Reading a warehouse or reporting database the way a BI tool does: read-only, then closed."""

from __future__ import annotations

from pathlib import Path

import duckdb


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
