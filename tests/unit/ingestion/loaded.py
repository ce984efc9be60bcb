"""What a load left behind, in a form two loads can be compared by (the bulk-load tests)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.sources import SOURCES


def loaded_tables(warehouse: Path, source: str) -> tuple[list, list]:
    """The source's raw rows (without the load time) and its quarantine, sorted."""
    contract = SOURCES[source].contract
    with duckdb.connect(str(warehouse), read_only=True) as con:
        raw = con.execute(
            f"SELECT * EXCLUDE (_loaded_at) FROM raw.{contract.table} ORDER BY ALL"
        ).fetchall()
        quarantine = con.execute(
            "SELECT _extract_date, source_file, source_line, raw_record, reason "
            f"FROM raw.{contract.quarantine_table} ORDER BY ALL"
        ).fetchall()
    return raw, quarantine


def load_summary(loads) -> list[tuple]:
    """Per partition: its files' counts and its quarantine reasons."""
    return [
        (
            load.extract_date,
            [(f.file, f.rows_read, f.loaded, f.quarantined) for f in load.files],
            dict(load.quarantine_reasons),
        )
        for load in loads
    ]


def extract_log(warehouse: Path, source: str | None = None) -> list[tuple]:
    """raw.extract_loads without the load time: (source, extract_date, files, read, loaded,
    quarantined), sorted."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "SELECT * EXCLUDE (loaded_at) FROM raw.extract_loads "
            "WHERE $source IS NULL OR source = $source ORDER BY ALL",
            {"source": source},
        ).fetchall()
