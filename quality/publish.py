"""Write-audit-publish: copy validated marts to the reporting database and Parquet, atomically.

The new reporting database is written beside the old one and renamed over it, so a BI session
that has the old file open keeps reading it, and a new session sees the old or the new version,
never a mix. The file is written in DuckDB's v1.5.0 storage format so BI drivers that bundle
DuckDB 1.5 can open it.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

log = logging.getLogger(__name__)

STORAGE_VERSION = "v1.5.0"
MARTS_SCHEMA = "marts"
# The cockpit's Data health page: how the publication came about (never read by BI as marts).
HEALTH_SCHEMA = "health"


@dataclass(frozen=True)
class PublishResult:
    database: Path
    parquet_dir: Path
    rows: dict[str, int]
    # The marts whose rows differ from the previous publication: their Parquet was written.
    changed: list[str] = field(default_factory=list)
    # The database is a copy of the previous one with the changed marts replaced (else every
    # mart was written to a new file).
    copied: bool = False


# Where each publication records its marts' fingerprints, to find what the next one changes.
FINGERPRINTS = "mart_fingerprints"


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


Fingerprint = tuple[int, int, str]


def _fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> Fingerprint:
    """Rows, the sum of the rows' hashes (equal for the same rows in any order) and the columns
    with their types: a row's hash is its values', whatever the columns are named or typed."""
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {relation} AS t"
    ).fetchall()[0]
    columns = ", ".join(
        f"{name} {kind}" for name, kind, *_ in con.execute(f"DESCRIBE {relation}").fetchall()
    )
    return int(rows), int(total), columns


def _previous_fingerprints(reporting_path: Path) -> dict[str, Fingerprint]:
    """The marts the current publication holds and their fingerprints; {} when there is no
    publication, it records none (published before fingerprints) or cannot be read."""
    if not reporting_path.exists():
        return {}
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {_quote_path(reporting_path)} AS previous (READ_ONLY)")
            rows = con.execute(
                f"SELECT mart, row_count, fingerprint, columns "
                f"FROM previous.{HEALTH_SCHEMA}.{FINGERPRINTS}"
            ).fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        log.info("publishing every mart: the previous publication's fingerprints: %s", exc)
        return {}
    return {mart: (int(count), int(total), columns) for mart, count, total, columns in rows}


def publish_marts(
    warehouse_path: Path,
    reporting_path: Path,
    parquet_dir: Path,
    tables: list[str],
    health: dict[str, pd.DataFrame] | None = None,
) -> PublishResult:
    """Publish `tables` of the warehouse's marts schema; returns rows per table.

    Only the marts that changed are written. A mart whose fingerprint (rows, sum of row hashes)
    equals the one the current publication recorded is unchanged: its Parquet file stays, and
    when the unchanged marts hold more rows than the changed ones the new database starts as a
    file copy of the current one, in which only the changed marts are replaced. (A changed mart
    is replaced whole: removing and adding only the rows that differ cost as much, in hashing
    both sides, as writing it, and grew the file.) Either way the new database replaces the old
    one in one rename: readers never see a mix.

    `health` frames (the run's gate verdicts, the publication itself) are written to the
    database's `health` schema beside the extract log (raw.extract_loads: rows read, loaded and
    quarantined per source and extract date), in the same atomic swap as the marts.
    """
    reporting_path.parent.mkdir(parents=True, exist_ok=True)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    previous = _previous_fingerprints(reporting_path)
    token = uuid.uuid4().hex[:12]
    staged_db = reporting_path.with_name(f".{reporting_path.name}.{token}.tmp")
    staged_parquet = parquet_dir.with_name(f".{parquet_dir.name}.{token}.tmp")
    staged_parquet.mkdir()
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {_quote_path(warehouse_path)} AS warehouse (READ_ONLY)")
            fingerprints = {
                table: _fingerprint(con, f"warehouse.{MARTS_SCHEMA}.{table}") for table in tables
            }
            changed = [
                table
                for table in tables
                if previous.get(table) != fingerprints[table]
                or not (parquet_dir / f"{table}.parquet").exists()
            ]
            kept_rows = sum(fingerprints[t][0] for t in tables if t not in changed)
            copied = bool(previous) and kept_rows > sum(fingerprints[t][0] for t in changed)
            if copied:
                shutil.copyfile(reporting_path, staged_db)
                con.execute(f"ATTACH {_quote_path(staged_db)} AS published")
                for gone in set(previous) - set(tables):
                    con.execute(f"DROP TABLE IF EXISTS published.{MARTS_SCHEMA}.{gone}")
            else:
                con.execute(
                    f"ATTACH {_quote_path(staged_db)} AS published "
                    f"(STORAGE_VERSION '{STORAGE_VERSION}')"
                )
                con.execute(f"CREATE SCHEMA published.{MARTS_SCHEMA}")
            for table in tables if not copied else changed:
                source = f"warehouse.{MARTS_SCHEMA}.{table}"
                con.execute(
                    f"CREATE OR REPLACE TABLE published.{MARTS_SCHEMA}.{table} AS FROM {source}"
                )
            for table in changed:
                target = staged_parquet / f"{table}.parquet"
                con.execute(
                    f"COPY (FROM warehouse.{MARTS_SCHEMA}.{table}) TO {_quote_path(target)} "
                    "(FORMAT parquet)"
                )
            _write_health(con, health or {}, fingerprints)
            con.execute("DETACH published")
            con.execute("DETACH warehouse")
        finally:
            con.close()
        # The database last: it records the fingerprints, so a publication stopped between
        # the renames leaves the last ones, and the next one writes every file again.
        for table in changed:
            os.replace(staged_parquet / f"{table}.parquet", parquet_dir / f"{table}.parquet")
        os.replace(staged_db, reporting_path)
    finally:
        staged_db.unlink(missing_ok=True)
        Path(f"{staged_db}.wal").unlink(missing_ok=True)
        shutil.rmtree(staged_parquet, ignore_errors=True)
    rows = {table: fingerprint[0] for table, fingerprint in fingerprints.items()}
    log.info(
        "published %s marts to %s (changed: %s; %s): %s",
        len(tables),
        reporting_path,
        ", ".join(changed) or "none",
        "the others kept in a copy of the last file" if copied else "every mart written",
        rows,
    )
    return PublishResult(reporting_path, parquet_dir, rows, changed, copied)


def _write_health(
    con: duckdb.DuckDBPyConnection,
    health: dict[str, pd.DataFrame],
    fingerprints: dict[str, Fingerprint],
) -> None:
    con.execute(f"DROP SCHEMA IF EXISTS published.{HEALTH_SCHEMA} CASCADE")
    con.execute(f"CREATE SCHEMA published.{HEALTH_SCHEMA}")
    con.execute(
        f"CREATE TABLE published.{HEALTH_SCHEMA}.{FINGERPRINTS} "
        "(mart VARCHAR, row_count BIGINT, fingerprint HUGEINT, columns VARCHAR)"
    )
    con.executemany(
        f"INSERT INTO published.{HEALTH_SCHEMA}.{FINGERPRINTS} VALUES (?, ?, ?, ?)",
        [(mart, *fingerprint) for mart, fingerprint in fingerprints.items()],
    )
    has_log = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'warehouse' "
        "AND schema_name = 'raw' AND table_name = 'extract_loads'"
    ).fetchall()[0][0]
    if has_log:
        con.execute(
            f"CREATE TABLE published.{HEALTH_SCHEMA}.extract_loads "
            "AS FROM warehouse.raw.extract_loads"
        )
    for name, frame in health.items():
        con.register("health_frame", frame)
        con.execute(f"CREATE TABLE published.{HEALTH_SCHEMA}.{name} AS FROM health_frame")
        con.unregister("health_frame")
