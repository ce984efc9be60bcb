"""Read warehouse tables for validation and profiles, without taking the writer's lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd


def read_table(warehouse_path: Path, relation: str) -> pd.DataFrame:
    """The whole table as a dataframe, through a read-only connection."""
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {relation}").df()
    finally:
        con.close()


@dataclass(frozen=True)
class TableProfile:
    """What the UI shows about a freshly built table: size, period covered, first rows."""

    relation: str
    row_count: int
    covers: tuple[str, str] | None = None
    # Column names and the first rows, as Python values (dates stay dates).
    preview: tuple[list[str], list[tuple]] | None = None


def profile_tables(
    warehouse_path: Path,
    relations: dict[str, str | None],
    preview_relations: set[str],
    preview_rows: int = 5,
) -> dict[str, TableProfile]:
    """Row count, min/max of the period column and a preview of each relation, read-only.

    `relations` maps `schema.table` to its period column (None when it has none).
    """
    profiles: dict[str, TableProfile] = {}
    if not relations:
        return profiles
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        for relation, period_column in relations.items():
            row_count = con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
            covers = None
            if period_column and row_count:
                low, high = con.execute(
                    f"SELECT min({period_column}), max({period_column}) FROM {relation}"
                ).fetchone()
                covers = (str(low), str(high))
            preview = None
            if relation in preview_relations:
                cursor = con.execute(f"SELECT * FROM {relation} LIMIT {preview_rows}")
                rows = cursor.fetchall()
                preview = ([column[0] for column in cursor.description], rows)
            profiles[relation] = TableProfile(relation, row_count, covers, preview)
    finally:
        con.close()
    return profiles
