"""Read warehouse tables for validation, without taking the writer's lock."""

from __future__ import annotations

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
