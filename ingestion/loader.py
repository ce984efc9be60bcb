"""Idempotent, transactional loads of daily partitions of one source."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ingestion.contracts import (
    PARAM_EXTRACT_DATE,
    Contract,
    added_columns_ddl,
    quarantine_insert_sql,
    quarantine_table_ddl,
    raw_table_ddl,
    typed_insert_sql,
    validation_select_sql,
)
from ingestion.errors import LandingFileError
from ingestion.mapping import SourceMapping, mapping_for
from ingestion.raw_parquet import (
    write_empty_table,
    write_partition,
    write_table,
    write_whole_table,
)
from ingestion.readers import (
    NO_RAW_LINES,
    CsvShape,
    duckdb_csv_shape,
    native_fields,
    select_contract_columns,
    sql_string,
    stage_csv,
    stage_csv_files,
    stage_servicenow_json,
)
from ingestion.servicenow_json import raw_lines_sql as json_raw_lines_sql
from ingestion.servicenow_json import stage_json_files
from ingestion.sources import SOURCES, Source
from ingestion.warehouse import EXTRACT_LOADS, RAW_SCHEMA, connect

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


# One row per source and extract date that was loaded: what was delivered (files) and what
# came of it. A delivered extract may hold no rows (a quiet day, a source with nothing to say):
# freshness asks whether extracts arrive, not whether they hold rows (quality/gates).
_EXTRACT_LOADS_DDL = f"""CREATE TABLE {RAW_SCHEMA}.{EXTRACT_LOADS} (
    source VARCHAR NOT NULL,
    extract_date DATE NOT NULL,
    files INTEGER NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = $schema AND table_name = $table",
            {"schema": RAW_SCHEMA, "table": table},
        ).fetchone()[0]
    )


def _create_extract_loads(con: duckdb.DuckDBPyConnection) -> None:
    """The extract log; a warehouse loaded before it had one gets it from its raw tables (an
    extract that held no rows then is not known, as it left nothing behind)."""
    if _table_exists(con, EXTRACT_LOADS):
        return
    con.execute(_EXTRACT_LOADS_DDL)
    for source in SOURCES.values():
        contract = source.contract
        if not _table_exists(con, contract.table):
            continue
        con.execute(
            f"""INSERT INTO {RAW_SCHEMA}.{EXTRACT_LOADS}
            SELECT $source, _extract_date, count(DISTINCT file), count(*),
                count(*) FILTER (WHERE loaded), count(*) FILTER (WHERE NOT loaded), max(loaded_at)
            FROM (
                SELECT _extract_date, _source_file AS file, true AS loaded, _loaded_at AS loaded_at
                FROM {RAW_SCHEMA}.{contract.table}
                UNION ALL
                SELECT _extract_date, source_file, false, _loaded_at
                FROM {RAW_SCHEMA}.{contract.quarantine_table}
            ) AS rows_of_extracts
            GROUP BY _extract_date""",
            {"source": source.name},
        )


def _create_tables(con: duckdb.DuckDBPyConnection, sources: Iterable[Source]) -> set[str]:
    """Create what is missing; returns the raw tables that gained a column."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    widened = set()
    for source in sources:
        con.execute(raw_table_ddl(source.contract, RAW_SCHEMA))
        con.execute(quarantine_table_ddl(source.contract, RAW_SCHEMA))
        # A field a contract gained since the warehouse was created (e.g. itsm's sys_mod_count):
        # NULL in the partitions loaded before it.
        for statement in added_columns_ddl(con, source.contract, RAW_SCHEMA):
            con.execute(statement)
            widened.add(source.contract.table)
    _create_extract_loads(con)
    return widened


def _record_extract_loads(
    con: duckdb.DuckDBPyConnection, loads: Iterable[PartitionLoad], loaded_at: dict
) -> None:
    """Replace the extract log's rows of these partitions (inside the load's transaction)."""
    rows = [
        (
            load.source,
            load.extract_date,
            len(load.files),
            load.rows_read,
            load.loaded,
            load.quarantined,
        )
        for load in loads
    ]
    con.executemany(
        f"DELETE FROM {RAW_SCHEMA}.{EXTRACT_LOADS} WHERE source = ? AND extract_date = ?",
        [row[:2] for row in rows],
    )
    con.executemany(
        f"INSERT INTO {RAW_SCHEMA}.{EXTRACT_LOADS} VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))",
        [(*row, loaded_at["loaded_at"]) for row in rows],
    )


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
    loaded_at = {"loaded_at": datetime.now(UTC).replace(tzinfo=None)}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in (contract.table, contract.quarantine_table):
            con.execute(
                f"DELETE FROM {RAW_SCHEMA}.{table} WHERE _extract_date = $d", {"d": extract_date}
            )
        for number, path in enumerate(source.files_in(folder)):
            reader = source.readers[path.suffix.lower()]
            raw_lines = reader(con, path, contract, _STAGED, mapping) or NO_RAW_LINES
            # From the second file on, keys the extract's earlier files loaded are duplicates.
            # Only this extract's rows: the correlated lookup would otherwise hash the whole
            # raw table for every file (a year of tickets made the ticket loads 30 % slower).
            earlier = (
                f"(SELECT * FROM {RAW_SCHEMA}.{contract.table} "
                f"WHERE _extract_date = {PARAM_EXTRACT_DATE})"
                if number
                else None
            )
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_CHECKED} AS "
                + validation_select_sql(
                    contract, _STAGED, native=native_fields(con, _STAGED), earlier_rows=earlier
                ),
                {"extract_date": extract_date},
            )
            rows_read, quarantined = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE _reason <> '') FROM {_CHECKED}"
            ).fetchone()
            con.execute(typed_insert_sql(contract, RAW_SCHEMA, _CHECKED), loaded_at)
            if quarantined:
                con.execute(
                    quarantine_insert_sql(contract, RAW_SCHEMA, _CHECKED, raw_lines), loaded_at
                )
                for reason, count in con.execute(
                    f"SELECT _reason, count(*) FROM {_CHECKED} WHERE _reason <> '' GROUP BY 1"
                ).fetchall():
                    result.quarantine_reasons[reason] += count
            result.files.append(
                FileLoad(str(path), rows_read, rows_read - quarantined, quarantined)
            )
        _record_extract_loads(con, [result], loaded_at)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


class LoadProgress:
    """Progress lines of a long load, for a log where each line is an event (Dagster's): the
    running totals every `every_s` seconds and at the end, and a line for each extract date with
    quarantined rows. A line per date was two events per date, which in a year's refresh cost
    more than the loads themselves (issue 20)."""

    def __init__(
        self,
        source: str,
        dates: int,
        report: Callable[[str], None],
        every_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source, self._dates, self._report = source, dates, report
        self._every_s, self._clock = every_s, clock
        self._last = clock()
        self._loads: list[PartitionLoad] = []
        self._reported = 0

    def add(self, load: PartitionLoad) -> None:
        self._loads.append(load)
        if load.quarantined:
            self._report(
                f"{self._source} {load.extract_date}: {load.rows_read} read, {load.loaded} "
                f"loaded, {load.quarantined} quarantined"
            )
        if self._clock() - self._last >= self._every_s:
            self._totals()

    def finish(self) -> None:
        if self._reported < len(self._loads) or not self._loads:
            self._totals()

    def _totals(self) -> None:
        loads = self._loads
        span = f"{loads[0].extract_date}..{loads[-1].extract_date}" if loads else "no extract dates"
        self._report(
            f"{self._source}: {len(loads)} of {self._dates} extract dates loaded ({span}): "
            f"{sum(len(load.files) for load in loads)} files, "
            f"{sum(load.rows_read for load in loads)} read, "
            f"{sum(load.loaded for load in loads)} loaded, "
            f"{sum(load.quarantined for load in loads)} quarantined"
        )
        self._reported = len(loads)
        self._last = self._clock()


# A year of daily device snapshots is hundreds of Parquet files: validating a run of them in one
# statement per chunk, instead of one per file, is what keeps a full refresh near DuckDB's own
# speed. A chunk is one transaction; its size bounds the memory the checked rows take.
BULK_CHUNK_ROWS = 4_000_000
_STAGED_VIEW = "_xmo_staged_files"


class _BulkNotPossible(Exception):
    """The files of a chunk cannot be loaded together; load them one partition at a time."""


# Files that load a chunk of days per statement. Parquet says its row count; JSON and CSV days
# count by bytes (a ticket version is ~700 bytes of JSON, 250 keeps a chunk's parsed records well
# inside DuckDB's memory limit; a CSV row is taken as 100 bytes, its values staged as text).
_JSON_BYTES_PER_ROW = 250
# What the days of one chunk share: the suffix, and for CSV the header and delimiter.
ChunkShape = str | CsvShape


def _day_shape(
    con: duckdb.DuckDBPyConnection, source: Source, files: list[Path], mapping: SourceMapping
) -> tuple[ChunkShape, int] | None:
    """The shape of a day's files and its rows, or None when the day must load on its own."""
    suffixes = {f.suffix.lower() for f in files}
    if len(suffixes) != 1:
        return None
    suffix = suffixes.pop()
    reader = source.readers[suffix]
    if suffix == ".parquet":
        rows = con.execute(
            "SELECT sum(num_rows) FROM parquet_file_metadata($files)",
            {"files": [str(f) for f in files]},
        ).fetchall()[0][0]
        return suffix, int(rows or 0)
    if reader is stage_servicenow_json:
        return suffix, sum(f.stat().st_size for f in files) // _JSON_BYTES_PER_ROW
    if reader is stage_csv:
        shapes = {duckdb_csv_shape(f, source.contract, mapping) for f in files}
        if len(shapes) == 1 and (shape := shapes.pop()) is not None:
            return shape, sum(f.stat().st_size for f in files) // 100
    return None


def _bulk_chunks(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dates: list[date],
    files: dict[date, list[Path]],
    mapping: SourceMapping,
) -> Iterator[tuple[list[date], ChunkShape | None]]:
    """Runs of consecutive dates whose files share a shape that loads in bulk, cut at
    BULK_CHUNK_ROWS; every other date comes alone (shape None: the per-partition path)."""
    chunk: list[date] = []
    chunk_shape: ChunkShape | None = None
    rows = 0
    for day in dates:
        try:
            day_shape = _day_shape(con, source, files[day], mapping) if files[day] else None
        except (duckdb.Error, OSError):
            day_shape = None  # unreadable: the per-partition path names the file
        if day_shape is None:
            if chunk:
                yield chunk, chunk_shape
                chunk, rows = [], 0
            yield [day], None
            continue
        shape, day_rows = day_shape
        if chunk and (rows + day_rows > BULK_CHUNK_ROWS or shape != chunk_shape):
            yield chunk, chunk_shape
            chunk, rows = [], 0
        chunk.append(day)
        chunk_shape = shape
        rows += day_rows
    if chunk:
        yield chunk, chunk_shape


def _bulk_select(
    con: duckdb.DuckDBPyConnection, paths: list[Path], contract: Contract, mapping: SourceMapping
) -> str:
    """The staging select list shared by all files, or _BulkNotPossible if their columns differ."""
    try:
        schema = con.execute(
            "SELECT file_name, name, num_children, type, converted_type, logical_type "
            "FROM parquet_schema($files)",
            {"files": [str(p) for p in paths]},
        ).fetchall()
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(paths[0]))})"
        ).fetchall()
    except duckdb.Error:
        raise _BulkNotPossible from None
    columns: dict[str, list[tuple]] = {}
    for file_name, name, children, *physical in schema:
        if file_name not in columns:  # the root ("schema", or "duckdb_schema" from DuckDB)
            columns[file_name] = []
        elif children is None:
            columns[file_name].append((name, *map(str, physical)))
        else:  # a nested column: the per-file reader handles it
            raise _BulkNotPossible
    shapes = {tuple(c) for c in columns.values()}
    if len(shapes) != 1 or len(columns) != len(paths):
        raise _BulkNotPossible
    names = [row[0] for row in described]
    if names != [column[0] for column in next(iter(shapes))]:
        raise _BulkNotPossible
    types = {row[0]: row[1] for row in described}
    try:
        return select_contract_columns(contract, names, paths[0], mapping, types)
    except LandingFileError:
        raise _BulkNotPossible from None


def _stage_parquet_chunk(
    con: duckdb.DuckDBPyConnection, paths: list[Path], contract: Contract, mapping: SourceMapping
) -> str:
    """_STAGED_VIEW over the chunk's Parquet files; returns the SQL of their raw lines."""
    select = _bulk_select(con, paths, contract, mapping)
    listed = "[" + ", ".join(sql_string(str(p)) for p in paths) + "]"
    scan = f"read_parquet({listed}, filename = true, file_row_number = true)"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {_STAGED_VIEW} AS SELECT {select}, "
        "t.filename AS _source_file, t.file_row_number + 1 AS _source_line, "
        "CAST(NULL AS VARCHAR) AS _raw_record, CAST(NULL AS VARCHAR) AS _parse_error, "
        "d.extract_date AS _file_extract_date "
        f"FROM {scan} AS t JOIN _xmo_file_dates AS d ON d.file = t.filename"
    )
    # The record as read: the file's own columns, not the scan's filename and row number.
    return (
        "(SELECT filename AS _source_file, file_row_number + 1 AS _source_line, "
        "CAST(to_json(struct_pack(*COLUMNS(* EXCLUDE (filename, file_row_number)))) "
        f"AS VARCHAR) AS _raw_record FROM {scan})"
    )


def _stage_json_chunk(
    con: duckdb.DuckDBPyConnection, paths: list[Path], contract: Contract, mapping: SourceMapping
) -> str:
    """_STAGED_VIEW over the chunk's ServiceNow JSON files; returns the SQL of their raw lines."""
    if not stage_json_files(con, paths, contract, mapping, _STAGED_BULK):
        raise _BulkNotPossible
    _stage_view_with_dates(con)
    return json_raw_lines_sql(paths)


def _stage_csv_chunk(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    contract: Contract,
    mapping: SourceMapping,
    shape: CsvShape,
) -> str:
    """_STAGED_VIEW over the chunk's CSV files; returns the SQL of their raw lines."""
    raw_lines = stage_csv_files(con, paths, shape, contract, mapping, _STAGED_BULK)
    if raw_lines is None:
        raise _BulkNotPossible
    _stage_view_with_dates(con)
    return raw_lines


_STAGED_BULK = "_xmo_staged_bulk"


def _stage_view_with_dates(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {_STAGED_VIEW} AS "
        "SELECT t.*, d.extract_date AS _file_extract_date "
        f"FROM {_STAGED_BULK} AS t JOIN _xmo_file_dates AS d ON d.file = t._source_file"
    )


def _load_chunk(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    files: dict[date, list[Path]],
    mapping: SourceMapping,
    shape: ChunkShape,
) -> list[PartitionLoad]:
    """Replace several partitions whose files share a shape, in one transaction."""
    contract = source.contract
    paths = [p for day in files for p in files[day]]
    file_dates = [(str(p), day) for day, day_files in files.items() for p in day_files]
    con.execute("CREATE OR REPLACE TEMP TABLE _xmo_file_dates (file VARCHAR, extract_date DATE)")
    con.executemany("INSERT INTO _xmo_file_dates VALUES (?, ?)", file_dates)
    if isinstance(shape, CsvShape):
        raw_lines = _stage_csv_chunk(con, paths, contract, mapping, shape)
    elif shape == ".json":
        raw_lines = _stage_json_chunk(con, paths, contract, mapping)
    else:
        raw_lines = _stage_parquet_chunk(con, paths, contract, mapping)
    loaded_at = {"loaded_at": datetime.now(UTC).replace(tzinfo=None)}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in (contract.table, contract.quarantine_table):
            con.execute(
                f"DELETE FROM {RAW_SCHEMA}.{table} "
                "WHERE _extract_date IN (SELECT extract_date FROM _xmo_file_dates)"
            )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_CHECKED} AS "
            + validation_select_sql(
                contract,
                _STAGED_VIEW,
                "_file_extract_date",
                native_fields(con, _STAGED_VIEW) - {"_file_extract_date"},
            )
        )
        counts = con.execute(
            f"SELECT _source_file, count(*), count(*) FILTER (WHERE _reason <> '') "
            f"FROM {_CHECKED} GROUP BY 1"
        ).fetchall()
        con.execute(typed_insert_sql(contract, RAW_SCHEMA, _CHECKED), loaded_at)
        reasons = con.execute(
            f"SELECT _extract_date, _reason, count(*) FROM {_CHECKED} "
            "WHERE _reason <> '' GROUP BY 1, 2"
        ).fetchall()
        if reasons:
            con.execute(quarantine_insert_sql(contract, RAW_SCHEMA, _CHECKED, raw_lines), loaded_at)
        loads = _chunk_loads(source, files, counts, reasons)
        _record_extract_loads(con, loads, loaded_at)
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise _BulkNotPossible from None
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return loads


def _chunk_loads(
    source: Source, files: dict[date, list[Path]], counts: list[tuple], reasons: list[tuple]
) -> list[PartitionLoad]:
    """What a chunk did for each of its days, from its counts per file and reason per day."""
    by_file = {file: (read, bad) for file, read, bad in counts}
    loads = []
    for day, day_files in files.items():
        load = PartitionLoad(
            source=source.name,
            extract_date=day,
            folder=str(day_files[0].parent),
        )
        for path in day_files:
            read, bad = by_file.get(str(path), (0, 0))
            load.files.append(FileLoad(str(path), read, read - bad, bad))
        load.quarantine_reasons.update({r: n for d, r, n in reasons if d == day})
        loads.append(load)
    return loads


def _load_days(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    source: Source,
    days: list[date],
    files: dict[date, list[Path]],
    mapping: SourceMapping,
    shape: ChunkShape | None,
) -> Iterator[PartitionLoad]:
    """Load `days` as one chunk; where that is not possible (a file DuckDB rejects, e.g. one
    ragged CSV row in a year), each half again, down to single days loaded on their own, so one
    bad day costs a few scans instead of a year loaded day by day."""
    if len(days) == 1 or shape is None:
        for day in days:
            yield _load_one(con, landing_dir, source, day, mapping)
        return
    try:
        loads = _load_chunk(con, source, {d: files[d] for d in days}, mapping, shape)
    except _BulkNotPossible:
        log.info("%s %s..%s: not loadable as one chunk, halving", source.name, days[0], days[-1])
        middle = len(days) // 2
        yield from _load_days(con, landing_dir, source, days[:middle], files, mapping, shape)
        yield from _load_days(con, landing_dir, source, days[middle:], files, mapping, shape)
        return
    yield from loads


def load_partitions(
    warehouse_path: Path,
    landing_dir: Path,
    source: Source,
    dates: Iterable[date],
    mappings_dir: Path | None = None,
    parquet_dir: Path | None = None,
) -> Iterator[PartitionLoad]:
    """Replace each partition of `source` with the contents of its landing folder, in order.

    Each partition is one transaction: its old rows and quarantine rows are deleted and every file
    is validated and inserted; if any file cannot be read, that transaction rolls back, the
    partition stays exactly as it was, and LandingFileError (naming the file) propagates.
    Partitions completed before the failure stay loaded, as a rerun would reload them anyway.
    Runs of days whose files are all Parquet load a chunk of days per transaction instead (the
    same rows, counts and quarantine); if such a chunk cannot be read as a whole, its days load
    one by one, so a bad file is still named and only its own partition fails.
    `mappings_dir` may hold a `<source>.yml` that replaces the project's export mapping.
    With `parquet_dir`, each loaded partition is also written there as Parquet (raw_parquet),
    for a dbt target that reads files instead of the warehouse (Spark).
    """
    mapping = mapping_for(source.name, mappings_dir)
    con = connect(warehouse_path)
    try:
        widened = _create_tables(con, [source])
        table = source.contract.table
        if parquet_dir is not None and (table in widened or not (parquet_dir / table).is_dir()):
            # The first load on the Parquet side (a data dir switched to Spark): the days
            # loaded before must be there too, or Spark would build on the new days alone. A
            # table that gained a column is written again whole: Spark takes a table's columns
            # from one of its files, and every file must have them all.
            write_table(con, parquet_dir, table)
        dates = list(dates)
        files = {d: source.files_in(landing_folder(landing_dir, source.name, d)) for d in dates}
        for chunk, shape in _bulk_chunks(con, source, dates, files, mapping):
            for load in _load_days(con, landing_dir, source, chunk, files, mapping, shape):
                if parquet_dir is not None:
                    write_partition(con, parquet_dir, source.contract.table, load.extract_date)
                yield load
        if parquet_dir is not None:
            write_whole_table(con, parquet_dir, EXTRACT_LOADS)
    finally:
        con.close()


@dataclass(frozen=True)
class ClearedSource:
    """What emptying a source the organisation does not declare removed."""

    source: str
    rows: int
    quarantined: int
    extracts: int


def clear_source(
    warehouse_path: Path, source: Source, parquet_dir: Path | None = None
) -> ClearedSource:
    """Empty the raw and quarantine tables of a source the organisation does not deliver, and
    its rows of the extract log, in one transaction; the tables stay, with their columns, so dbt
    builds what reads them as empty. Its landing files, if any, are left alone: declaring the
    source again and running those dates loads them.
    """
    contract = source.contract
    con = connect(warehouse_path)
    try:
        _create_tables(con, [source])
        con.execute("BEGIN TRANSACTION")
        try:
            counts = [
                con.execute(f"SELECT count(*) FROM {RAW_SCHEMA}.{table}").fetchone()[0]
                for table in (contract.table, contract.quarantine_table)
            ]
            extracts = con.execute(
                f"SELECT count(*) FROM {RAW_SCHEMA}.{EXTRACT_LOADS} WHERE source = $source",
                {"source": source.name},
            ).fetchone()[0]
            for table in (contract.table, contract.quarantine_table):
                con.execute(f"DELETE FROM {RAW_SCHEMA}.{table}")
            con.execute(
                f"DELETE FROM {RAW_SCHEMA}.{EXTRACT_LOADS} WHERE source = $source",
                {"source": source.name},
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if parquet_dir is not None:
            write_empty_table(con, parquet_dir, contract.table)
            write_whole_table(con, parquet_dir, EXTRACT_LOADS)
        return ClearedSource(source.name, counts[0], counts[1], extracts)
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
