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

import csv
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingestion.contracts import Contract, keeps_native_type, missing_required_columns
from ingestion.errors import LandingFileError
from ingestion.mapping import SourceMapping

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
        quoted = '"' + original.replace('"', '""') + '"'
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
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan_sql}").fetchall()
        columns = [row[0] for row in described]
        types = {row[0]: row[1] for row in described} if keep_native_types else None
        select = select_contract_columns(contract, columns, path, mapping, types)
        # Line numbers follow the file order, which DuckDB keeps (preserve_insertion_order).
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {staged_table} AS "
            f"SELECT {select}, $file AS _source_file, "
            f"row_number() OVER () + {first_line - 1} AS _source_line, "
            f"CAST(NULL AS VARCHAR) AS _raw_record FROM {scan_sql} AS t",
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


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    staged_table: str,
    mapping: SourceMapping,
) -> str:
    """A UTF-8 CSV with a header row; every value is read as text and checked by the contract."""
    _check_not_empty(path)
    nulls = ", ".join(sql_string(v) for v in mapping.null_values)
    scan = (
        f"read_csv({sql_string(str(path))}, header = true, all_varchar = true, nullstr = [{nulls}])"
    )
    # Line 1 is the header, so the first record is line 2.
    return _stage_from(con, path, contract, staged_table, scan, mapping, first_line=2)


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


# Reference fields whose human-readable name is what downstream models join on (the service
# catalog maps business_service names, not sys_ids). Every other field takes the raw `value`.
_DISPLAY_VALUE_FIELDS = frozenset({"business_service", "assignment_group", "location"})


def _flatten_servicenow_value(field_name: str, value: Any) -> str | None:
    if isinstance(value, dict):
        key = "display_value" if field_name in _DISPLAY_VALUE_FIELDS else "value"
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
) -> None:
    """Stage flattened text records (one dict per row, keyed by contract field).

    `raws` are the rows as read, one per record, or None when the reader offers raw lines SQL.
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
    its partition instead of loading half of it.
    """
    _check_not_empty(path)
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
    if records:
        seen = set().union(*(r.keys() for r in records if isinstance(r, dict)))
        missing = [c for c in contract.required_columns if c not in seen]
        if missing:
            raise LandingFileError(path, f"required field(s) missing in every record: {missing}")
    names = contract.field_names()
    flattened = [
        {n: _flatten_servicenow_value(n, r.get(n)) for n in names} if isinstance(r, dict) else {}
        for r in records
    ]
    # Encoding every record again cost a fifth of the load; only quarantined ones need it, and
    # DuckDB reads them back from the file when there are any.
    _stage_records(
        con, path, contract, staged_table, flattened, list(range(1, len(records) + 1)), None
    )
    return (
        f"(SELECT {sql_string(str(path))} AS _source_file, "
        "CAST(generate_subscripts(result, 1) AS BIGINT) AS _source_line, "
        "CAST(unnest(result) AS VARCHAR) AS _raw_record "
        f"FROM read_json({sql_string(str(path))}, columns = {{'result': 'JSON[]'}}, "
        "maximum_object_size = 1073741824))"
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
    every row loads as a version, and staging keeps the latest by sys_updated_on. Exports without
    a Sys ID column use the ticket number as its id.
    """
    _check_not_empty(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # Excel-friendly exports carry a BOM
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise LandingFileError(path, "has no header row") from None
    except csv.Error as exc:
        raise LandingFileError(path, f"is not valid CSV: {exc}") from None
    fields = [mapping.rename(h) for h in header]
    present = set(fields) | ({"sys_id"} if "number" in fields else set())
    missing = [c for c in contract.required_columns if c not in present]
    if missing:
        raise LandingFileError(
            path, f"required column(s) missing: {', '.join(missing)} (found: {', '.join(header)})"
        )
    records: list[dict[str, str | None]] = []
    lines: list[int] = []
    raws: list[str] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # trailing blank lines of hand-edited exports
            raw = dict(zip(header, row, strict=False))
            record: dict[str, str | None] = {}
            for name, cell in zip(fields, row, strict=False):
                value = mapping.normalise(name, cell)
                if value is not None and name in TIMESTAMP_FIELDS:
                    value = mapping.to_utc_text(value)
                record[name] = value
            if record.get("sys_id") is None:
                record["sys_id"] = record.get("number")
            records.append(record)
            lines.append(reader.line_num)
            raws.append(json.dumps(raw, ensure_ascii=False, sort_keys=True))
    except csv.Error as exc:
        raise LandingFileError(path, f"is not valid CSV at line {reader.line_num}: {exc}") from None
    _stage_records(con, path, contract, staged_table, records, lines, raws)
    return None
