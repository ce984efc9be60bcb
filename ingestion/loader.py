"""Idempotent, transactional loads of daily partitions of one source."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ingestion.contracts import (
    quarantine_insert_sql,
    quarantine_table_ddl,
    raw_table_ddl,
    typed_insert_sql,
    validation_select_sql,
)
from ingestion.mapping import SourceMapping, mapping_for
from ingestion.sources import SOURCES, Source
from ingestion.warehouse import RAW_SCHEMA, connect

log = logging.getLogger(__name__)

_STAGED = "_xmo_staged"
_CHECKED = "_xmo_checked"


@dataclass(frozen=True)
class FileLoad:
    """Counts for one landing file: rows_read == loaded + quarantined."""

    file: str
    rows_read: int
    loaded: int
    quarantined: int


@dataclass
class PartitionLoad:
    """What one partition load did."""

    source: str
    extract_date: date
    folder: str
    files: list[FileLoad] = field(default_factory=list)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


def landing_folder(landing_dir: Path, source: str, extract_date: date) -> Path:
    return landing_dir / source / extract_date.isoformat()


def extract_dates(landing_dir: Path, sources: Iterable[str] = SOURCES) -> list[date]:
    """Every extract date that has a landing folder for any of `sources`, sorted."""
    found: set[date] = set()
    for source in sources:
        root = landing_dir / source
        if not root.is_dir():
            continue
        for child in root.iterdir():
            try:
                found.add(date.fromisoformat(child.name))
            except ValueError:
                continue  # not an extract folder (e.g. a README or a mapping file)
    return sorted(found)


def _create_tables(con: duckdb.DuckDBPyConnection, sources: Iterable[Source]) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for source in sources:
        con.execute(raw_table_ddl(source.contract, RAW_SCHEMA))
        con.execute(quarantine_table_ddl(source.contract, RAW_SCHEMA))


def ensure_raw_tables(warehouse_path: Path, sources: Iterable[Source] = SOURCES.values()) -> None:
    """Create the raw and quarantine tables, so dbt sources exist before the first extract."""
    con = connect(warehouse_path)
    try:
        _create_tables(con, sources)
    finally:
        con.close()


def _load_one(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    source: Source,
    extract_date: date,
    mapping: SourceMapping,
) -> PartitionLoad:
    folder = landing_folder(landing_dir, source.name, extract_date)
    result = PartitionLoad(source=source.name, extract_date=extract_date, folder=str(folder))
    contract = source.contract
    params = {"extract_date": extract_date, "loaded_at": datetime.now(UTC).replace(tzinfo=None)}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in (contract.table, contract.quarantine_table):
            con.execute(
                f"DELETE FROM {RAW_SCHEMA}.{table} WHERE _extract_date = $d", {"d": extract_date}
            )
        for path in source.files_in(folder):
            reader = source.readers[path.suffix.lower()]
            reader(con, path, contract, _STAGED, mapping)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_CHECKED} AS "
                + validation_select_sql(contract, _STAGED),
                {"extract_date": extract_date},
            )
            rows_read, quarantined = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE _reason <> '') FROM {_CHECKED}"
            ).fetchone()
            con.execute(typed_insert_sql(contract, RAW_SCHEMA, _CHECKED), params)
            if quarantined:
                con.execute(quarantine_insert_sql(contract, RAW_SCHEMA, _CHECKED), params)
                for reason, count in con.execute(
                    f"SELECT _reason, count(*) FROM {_CHECKED} WHERE _reason <> '' GROUP BY 1"
                ).fetchall():
                    result.quarantine_reasons[reason] += count
            result.files.append(
                FileLoad(str(path), rows_read, rows_read - quarantined, quarantined)
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info(
        "%s %s: %s files, %s read, %s loaded, %s quarantined",
        source.name,
        extract_date,
        len(result.files),
        result.rows_read,
        result.loaded,
        result.quarantined,
    )
    return result


def load_partitions(
    warehouse_path: Path,
    landing_dir: Path,
    source: Source,
    dates: Iterable[date],
    mappings_dir: Path | None = None,
) -> Iterator[PartitionLoad]:
    """Replace each partition of `source` with the contents of its landing folder, in order.

    Each partition is one transaction: its old rows and quarantine rows are deleted and every file
    is validated and inserted; if any file cannot be read, that transaction rolls back, the
    partition stays exactly as it was, and LandingFileError (naming the file) propagates.
    Partitions completed before the failure stay loaded, as a rerun would reload them anyway.
    `mappings_dir` may hold a `<source>.yml` that replaces the project's export mapping.
    """
    mapping = mapping_for(source.name, mappings_dir)
    con = connect(warehouse_path)
    try:
        _create_tables(con, [source])
        for extract_date in dates:
            yield _load_one(con, landing_dir, source, extract_date, mapping)
    finally:
        con.close()


def load_partition(
    warehouse_path: Path,
    landing_dir: Path,
    source: Source,
    extract_date: date,
    mappings_dir: Path | None = None,
) -> PartitionLoad:
    """Replace one partition of `source`; see load_partitions."""
    loads = load_partitions(warehouse_path, landing_dir, source, [extract_date], mappings_dir)
    return next(iter(loads))
