"""Readers that stage one landing file as a table ready for contract validation.

Every reader creates `staged_table` with one column per contract field (NULL where the file
lacks an optional column), VARCHAR unless a typed file's own type fits the field, plus
`_source_file`, `_source_line` and `_raw_record` (the row as read, JSON), so the contract check
and the quarantine are the same for every format.

A reader returns the SQL of the file's raw lines (_source_file, _source_line, _raw_record) when
it leaves `_raw_record` NULL, or None when the staged rows carry it: turning every row into JSON
cost a quarter of a load, and only quarantined rows need it, so the loader runs that SQL only
when a file has some.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingestion.contracts import (
    Contract,
    keeps_native_type,
    missing_required_columns,
    quote_identifier,
)
from ingestion.csv_files import CsvDocument, ragged_reason, read_csv_document
from ingestion.errors import LandingFileError
from ingestion.mapping import SourceMapping
from ingestion.servicenow_json import DISPLAY_VALUE_FIELDS, raw_lines_sql, stage_json_files

TIMESTAMP_FIELDS = ("opened_at", "resolved_at", "closed_at", "sys_updated_on")
# Raw lines of a reader whose staged rows carry their raw record already.
NO_RAW_LINES = (
    "(SELECT CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS _source_line, "
    "CAST(NULL AS VARCHAR) AS _raw_record WHERE false)"
)


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise LandingFileError(path, "the file is empty (0 bytes); expected at least a header")


def select_contract_columns(
    contract: Contract,
    columns: list[str],
    path: Path,
    mapping: SourceMapping,
    types: dict[str, str] | None = None,
) -> str:
    """Select list mapping the file's columns (renamed, case-insensitively) onto the contract's.

    Columns are cast to text, except where `types` (the file's column types) shows a native type
    the contract's field can keep (contracts.keeps_native_type).
    """
    types = types or {}
    renamed = [mapping.rename(c) for c in columns]
    missing = missing_required_columns(contract, renamed)
    if missing:
        raise LandingFileError(
            path,
            f"required column(s) missing: {', '.join(missing)} (found: {', '.join(columns)})",
        )
    by_lower = {new.lower(): old for new, old in zip(renamed, columns, strict=True)}
    parts = []
    for f in contract.fields:
        name = f.name
        original = by_lower.get(name.lower())
        if original is None:
            parts.append(f'CAST(NULL AS VARCHAR) AS "{name}"')
            continue
        quoted = quote_identifier(original)
        if keeps_native_type(f, types.get(original, "VARCHAR")):
            parts.append(f'{quoted} AS "{name}"')
        else:
            parts.append(f'CAST({quoted} AS VARCHAR) AS "{name}"')
    return ", ".join(parts)


def native_fields(con: duckdb.DuckDBPyConnection, staged_table: str) -> frozenset[str]:
    """The staged columns that kept a native type (every other one is text)."""
    described = con.execute(f"DESCRIBE {staged_table}").fetchall()
    return frozenset(row[0] for row in described if row[1] != "VARCHAR")


def _stage_from(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    scan_sql: str,
    mapping: SourceMapping,
    *,
    first_line: int,
    keep_native_types: bool = False,
) -> str:
    """Stage the rows of `scan_sql`, numbered from `first_line` in the order DuckDB reads them
    (it keeps the file order: preserve_insertion_order)."""
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan_sql}").fetchall()
        columns = [row[0] for row in described]
        types = {row[0]: row[1] for row in described} if keep_native_types else None
        select = select_contract_columns(contract, columns, path, mapping, types)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {staged_table} AS "
            f"SELECT {select}, $file AS _source_file, "
            f"row_number() OVER () + {first_line - 1} AS _source_line, "
            "CAST(NULL AS VARCHAR) AS _raw_record, CAST(NULL AS VARCHAR) AS _parse_error "
            f"FROM {scan_sql} AS t",
            {"file": str(path)},
        )
    except duckdb.Error as exc:
        raise LandingFileError(path, f"cannot be read: {_first_line(exc)}") from None
    return (
        f"(SELECT {sql_string(str(path))} AS _source_file, "
        f"row_number() OVER () + {first_line - 1} AS _source_line, "
        f"CAST(to_json(t) AS VARCHAR) AS _raw_record FROM {scan_sql} AS t)"
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_document(path: Path, contract: Contract, mapping: SourceMapping) -> CsvDocument:
    return read_csv_document(path, contract.source, mapping.encodings, mapping.delimiter)


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    mapping: SourceMapping,
) -> str:
    """A CSV file with a header row; every value is read as text and checked by the contract.

    A record with more or fewer fields than the header is staged with that reason alone (and
    quarantined), the rest of the file loads. Clean UTF-8 files, one record per line, are
    parsed by DuckDB (a weekly directory snapshot at scale is 100,000 rows); any other file
    (another encoding, a ragged row, a line break in a quoted field, blank lines) one record at
    a time by the csv module, which knows each record's line.
    """
    document = _csv_document(path, contract, mapping)
    header = _unique_names(document.header)
    select = select_contract_columns(contract, header, path, mapping)  # missing columns fail
    rows = _csv_rows_by_duckdb(con, document, header, mapping)
    if rows is None:
        rows = _csv_rows_by_records(document, header, mapping)
    con.register("_xmo_csv_arrow", rows)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_CSV_ROWS} AS SELECT * FROM _xmo_csv_arrow")
    finally:
        con.unregister("_xmo_csv_arrow")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {staged_table} AS "
        f"SELECT {select}, $file AS _source_file, _source_line, _raw_record, _parse_error "
        f"FROM {_CSV_ROWS} AS t",
        {"file": str(path)},
    )
    as_json = ", ".join(f"{sql_string(name)}, {quote_identifier(name)}" for name in header)
    return (
        f"(SELECT {sql_string(str(path))} AS _source_file, _source_line, "
        f"CAST(json_object({as_json}) AS VARCHAR) AS _raw_record FROM {_CSV_ROWS})"
    )


_CSV_ROWS = "_xmo_csv_rows"


@dataclass(frozen=True)
class CsvShape:
    """What CSV files must share to be parsed by one DuckDB scan: header and delimiter."""

    header: tuple[str, ...]
    delimiter: str


def duckdb_csv_shape(path: Path, contract: Contract, mapping: SourceMapping) -> CsvShape | None:
    """The file's shape where DuckDB can parse it as one record per line (UTF-8 without a BOM,
    LF or CRLF line ends, the contract's required columns), else None: it loads on its own."""
    try:
        document = _csv_document(path, contract, mapping)
        header = _unique_names(document.header)
        select_contract_columns(contract, header, path, mapping)
    except LandingFileError:
        return None
    if document.encoding != "utf-8" or _physical_lines(document.text) is None:
        return None
    return CsvShape(tuple(header), document.delimiter)


def stage_csv_files(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    shape: CsvShape,
    contract: Contract,
    mapping: SourceMapping,
    staged_table: str,
) -> str | None:
    """Stage CSV files of one shape by one DuckDB scan (as stage_csv stages each), or None when
    a file does not read as one record per line (then each file loads on its own, by stage_csv).

    Returns the SQL of the files' raw lines. Lines are numbered per file in the order DuckDB
    reads the files and their rows (preserve_insertion_order), as stage_csv numbers them.
    """
    header = list(shape.header)
    select = select_contract_columns(contract, header, paths[0], mapping)
    scan = _strict_csv_scan(paths, header, shape.delimiter, mapping, with_filename=True)
    try:  # outside any transaction: the loader stages a chunk before it begins one
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_CSV_ROWS} AS SELECT * EXCLUDE (_n), "
            "CAST(_n - min(_n) OVER (PARTITION BY filename) + 2 AS BIGINT) AS _source_line "
            f"FROM (SELECT *, row_number() OVER () AS _n FROM {scan})"
        )
        counts = dict(
            con.execute(f"SELECT filename, count(*) FROM {_CSV_ROWS} GROUP BY 1").fetchall()
        )
    except duckdb.Error:
        return None
    # Every line after the header a record: then row numbers are line numbers.
    for path in paths:
        lines = _physical_lines(path.read_bytes())
        if lines is None or counts.get(str(path), 0) != lines - 1:
            return None
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {staged_table} AS "
        f"SELECT {select}, filename AS _source_file, _source_line, "
        "CAST(NULL AS VARCHAR) AS _raw_record, CAST(NULL AS VARCHAR) AS _parse_error "
        f"FROM {_CSV_ROWS} AS t"
    )
    as_json = ", ".join(f"{sql_string(name)}, {quote_identifier(name)}" for name in header)
    return (
        "(SELECT filename AS _source_file, _source_line, "
        f"CAST(json_object({as_json}) AS VARCHAR) AS _raw_record FROM {_CSV_ROWS})"
    )


def _physical_lines(text: str | bytes) -> int | None:
    """The line count of a file's text (or its UTF-8 bytes), or None where line ends other than
    LF or CRLF occur."""
    cr, lf = ("\r", "\n") if isinstance(text, str) else (b"\r", b"\n")
    carriage_returns = text.count(cr)
    if carriage_returns and carriage_returns != text.count(cr + lf):
        return None
    return text.count(lf) + (0 if text.endswith(lf) else 1)


def _strict_csv_scan(
    paths: list[Path],
    header: list[str],
    delimiter: str,
    mapping: SourceMapping,
    *,
    with_filename: bool = False,
) -> str:
    """DuckDB's read_csv of files with this header, every value text, nothing lenient: a record
    with another number of fields fails the scan instead of being padded or cut. With
    `with_filename`, a `filename` column says which file each row came from."""
    nulls = ", ".join(sql_string(v) for v in mapping.null_values)
    columns = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header)
    files = "[" + ", ".join(sql_string(str(p)) for p in paths) + "]"
    return (
        f"read_csv({files}, header = true, auto_detect = false, columns = {{{columns}}}, "
        f"delim = {sql_string(delimiter)}, quote = '\"', escape = '\"', strict_mode = true, "
        f"null_padding = false, nullstr = [{nulls}], filename = {str(with_filename).lower()})"
    )


def _csv_rows_by_duckdb(
    con: duckdb.DuckDBPyConnection,
    document: CsvDocument,
    header: list[str],
    mapping: SourceMapping,
) -> pa.Table | None:
    """The rows of a UTF-8 file DuckDB reads as one record per line, or None when it cannot (the
    file is then read record by record), so DuckDB's leniencies never decide what a row is.

    DuckDB parses in a cursor of its own: a file it rejects must not abort the load's
    transaction.
    """
    lines = _physical_lines(document.text)
    if document.encoding not in ("utf-8", "utf-8-sig") or lines is None:
        return None
    scan = _strict_csv_scan([document.path], header, document.delimiter, mapping)
    cursor = con.cursor()
    try:
        rows = cursor.sql(
            f"SELECT *, CAST(row_number() OVER () + 1 AS BIGINT) AS _source_line, "
            "CAST(NULL AS VARCHAR) AS _parse_error, CAST(NULL AS VARCHAR) AS _raw_record "
            f"FROM {scan}"
        ).to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        cursor.close()
    # Every line after the header a record: then row numbers are line numbers.
    return rows if rows.num_rows == lines - 1 else None


def _csv_rows_by_records(
    document: CsvDocument, header: list[str], mapping: SourceMapping
) -> pa.Table:
    """The rows of a CSV file read record by record; ragged ones carry their reason and text."""
    nulls = frozenset(mapping.null_values)
    columns: list[list[str | None]] = [[] for _ in header]
    lines: list[int] = []
    errors: list[str | None] = []
    raws: list[str | None] = []
    width = len(header)
    for record in document.records():
        lines.append(record.line)
        if len(record.cells) == width:
            for column, cell in zip(columns, record.cells, strict=True):
                column.append(None if cell in nulls else cell)
            errors.append(None)
            raws.append(None)
        else:
            for column in columns:
                column.append(None)
            errors.append(ragged_reason(len(record.cells), width))
            raws.append(document.raw_text(record))
    values = {
        name: pa.array(column, pa.string()) for name, column in zip(header, columns, strict=True)
    }
    return pa.table(
        {
            **values,
            "_source_line": pa.array(lines, pa.int64()),
            "_parse_error": pa.array(errors, pa.string()),
            "_raw_record": pa.array(raws, pa.string()),
        }
    )


def _unique_names(header: list[str]) -> list[str]:
    """The header with repeated names numbered (`comment`, `comment_2`), as DuckDB names them."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        names.append(name if seen[key] == 1 else f"{name}_{seen[key]}")
    return names


def stage_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    mapping: SourceMapping,
) -> str:
    """A Parquet file; typed values the contract can keep stay typed, the rest become text."""
    _check_not_empty(path)
    scan = f"read_parquet({sql_string(str(path))})"
    return _stage_from(
        con, path, contract, staged_table, scan, mapping, first_line=1, keep_native_types=True
    )


def _flatten_servicenow_value(field_name: str, value: Any) -> str | None:
    if isinstance(value, dict):
        key = "display_value" if field_name in DISPLAY_VALUE_FIELDS else "value"
        value = value.get(key, value.get("value"))
        if isinstance(value, dict):  # a reference link object inside display_value=all
            value = value.get("value")
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _stage_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    records: list[dict[str, str | None]],
    lines: list[int],
    raws: list[str] | None,
    errors: list[str | None] | None = None,
) -> None:
    """Stage flattened text records (one dict per row, keyed by contract field).

    `raws` are the rows as read, one per record, or None when the reader offers raw lines SQL;
    `errors` a reader's reason per record (None: the contract judges it).
    """
    table = pa.table(
        {
            **{
                name: pa.array([r.get(name) for r in records], pa.string())
                for name in contract.field_names()
            },
            "_source_file": pa.array([str(path)] * len(records), pa.string()),
            "_source_line": pa.array(lines, pa.int64()),
            "_raw_record": pa.array(raws or [None] * len(records), pa.string()),
            "_parse_error": pa.array(errors or [None] * len(records), pa.string()),
        }
    )
    con.register("_xmo_records", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {staged_table} AS SELECT * FROM _xmo_records")
    finally:
        con.unregister("_xmo_records")


def stage_servicenow_json(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    mapping: SourceMapping,
) -> str:
    """A ServiceNow Table API response, `{"result": [...]}`, with plain or reference fields.

    The whole file is parsed before anything is staged, so a truncated or malformed file fails
    its partition instead of loading half of it. DuckDB reads it (servicenow_json); a file it
    cannot read as a Table API response is read by Python, which names the problem or keeps
    its rules for odd records (e.g. one that is not an object).
    """
    _check_not_empty(path)
    if stage_json_files(con, [path], contract, mapping, staged_table):
        return raw_lines_sql([path])
    return stage_servicenow_json_in_python(con, path, contract, staged_table, mapping)


def stage_servicenow_json_in_python(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    mapping: SourceMapping,
) -> str:
    """stage_servicenow_json record by record in Python: the rules DuckDB's path must equal."""
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise LandingFileError(
            path, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("result"), list):
        raise LandingFileError(path, 'expected a ServiceNow Table API object {"result": [...]}')
    records = document["result"]
    # A response of one table's endpoint may leave out the class: the number says it.
    derived = {"sys_class_name"} if mapping.table or mapping.number_prefixes else set()
    if records:
        seen = set().union(*(r.keys() for r in records if isinstance(r, dict)))
        missing = [c for c in contract.required_columns if c not in seen | derived]
        if missing:
            raise LandingFileError(path, f"required field(s) missing in every record: {missing}")
    names = contract.field_names()
    flattened = [
        {n: _flatten_servicenow_value(n, r.get(n)) for n in names} if isinstance(r, dict) else {}
        for r in records
    ]
    errors = [
        _fill_table(record, mapping)
        if isinstance(raw, dict) and "sys_class_name" not in raw and derived
        else None
        for record, raw in zip(flattened, records, strict=True)
    ]
    # Encoding every record again cost a fifth of the load; only quarantined ones need it, and
    # DuckDB reads them back from the file when there are any.
    _stage_records(
        con,
        path,
        contract,
        staged_table,
        flattened,
        list(range(1, len(records) + 1)),
        None,
        errors,
    )
    return (
        f"(SELECT {sql_string(str(path))} AS _source_file, "
        "CAST(generate_subscripts(result, 1) AS BIGINT) AS _source_line, "
        "CAST(unnest(result) AS VARCHAR) AS _raw_record "
        f"FROM read_json({sql_string(str(path))}, columns = {{'result': 'JSON[]'}}, "
        "maximum_object_size = 1073741824))"
    )


def _fill_table(record: dict[str, str | None], mapping: SourceMapping) -> str | None:
    """Set a record's missing sys_class_name from its number; the reason when none fits."""
    record["sys_class_name"] = mapping.table_of(record.get("number"))
    if record["sys_class_name"] is not None or record.get("number") is None:
        return None
    known = ", ".join(sorted(mapping.number_prefixes)) or "none configured"
    return (
        f"number {record['number']} has no known table prefix ({known}); "
        "add it to `number_prefixes` or set `table` in mappings/itsm.yml"
    )


def stage_servicenow_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    mapping: SourceMapping,
) -> None:
    """A ServiceNow list export (CSV) of incidents or requested items.

    Headers are field labels (renamed by the mapping), values are display values ("2 - High",
    "Resolved"), date-times are in the instance's format and the exporting user's time zone,
    and "?" or empty means null. An audit/event-log export has one row per update of a ticket:
    every row loads as a version, and staging keeps the last. Exports without a Sys ID column
    use the ticket number as its id; exports without a class column (lists of one table) take
    the table from the mapping's `table`, else from the number's prefix (`number_prefixes`).
    """
    document = _csv_document(path, contract, mapping)
    header = document.header
    fields = [mapping.rename(h) for h in header]
    derived = {"sys_id"} if "number" in fields else set()
    if "number" in fields and (mapping.table or mapping.number_prefixes):
        derived.add("sys_class_name")
    missing = [c for c in contract.required_columns if c not in set(fields) | derived]
    if missing:
        raise LandingFileError(
            path, f"required column(s) missing: {', '.join(missing)} (found: {', '.join(header)})"
        )
    class_from_number = "sys_class_name" not in fields
    records: list[dict[str, str | None]] = []
    lines: list[int] = []
    raws: list[str] = []
    errors: list[str | None] = []
    for row in document.records():
        lines.append(row.line)
        if len(row.cells) != len(header):
            records.append({})
            raws.append(document.raw_text(row))
            errors.append(ragged_reason(len(row.cells), len(header)))
            continue
        record: dict[str, str | None] = {}
        for name, cell in zip(fields, row.cells, strict=True):
            value = mapping.normalise(name, cell)
            if value is not None and name in TIMESTAMP_FIELDS:
                value = mapping.to_utc_text(value)
            record[name] = value
        if record.get("sys_id") is None:
            record["sys_id"] = record.get("number")
        records.append(record)
        raws.append(json.dumps(dict(zip(header, row.cells, strict=True)), ensure_ascii=False))
        errors.append(_fill_table(record, mapping) if class_from_number else None)
    _stage_records(con, path, contract, staged_table, records, lines, raws, errors)
    return None
