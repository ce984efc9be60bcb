"""Row contracts for landing sources, checked inside DuckDB.

A contract lists the fields of a source with their type and rules. Validation runs as one SQL
statement over a staged table whose columns are all text, so a partition of millions of rows is
checked without a Python loop. Each rule that fails contributes a reason; a row with no reason is
loaded, a row with one or more reasons is quarantined with all of them joined by "; ".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import duckdb

FieldType = Literal["varchar", "integer", "double", "timestamp", "date", "boolean"]

_SQL_TYPES: dict[str, str] = {
    "varchar": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Field:
    """One column of a landing contract."""

    name: str
    type: FieldType = "varchar"
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None
    # Timestamps may not lie more than a day after the end of the extract day: a clock that far
    # ahead is a broken export, not an early event.
    not_future: bool = False
    # An employee id or free text: kept in the working warehouse only, pseudonymised or dropped
    # on the way to the marts, and never shown as evidence of a broken rule.
    personal: bool = False

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[self.type]


@dataclass(frozen=True)
class RowRule:
    """A rule over several fields; `violation_sql` is true when the row breaks it."""

    violation_sql: str
    reason: str


@dataclass(frozen=True)
class Contract:
    """The contract of one landing source and the raw table it loads into."""

    source: str
    table: str
    fields: tuple[Field, ...]
    unique_key: tuple[str, ...]
    row_rules: tuple[RowRule, ...] = field(default=())
    # Rows of one extract that share the unique key but differ in any field are versions (an
    # event log's updates within one minute; staging keeps the last), not duplicates: only an
    # identical copy of a row is quarantined.
    key_shared_by_versions: bool = False
    # Groups of columns of which a file must have at least one (a device's user: employee_id
    # or user_principal_name); a row with none of a group's values breaks a row rule.
    required_one_of: tuple[tuple[str, ...], ...] = ()

    @property
    def quarantine_table(self) -> str:
        return f"quarantine_{self.source}"

    @property
    def required_columns(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def personal_fields(self) -> frozenset[str]:
        """Employee ids and free text (Field.personal)."""
        return frozenset(f.name for f in self.fields if f.personal)


def _text(name: str) -> str:
    """The staged text value with blanks read as missing."""
    return f"nullif(trim({quote_identifier(name)}), '')"


def quote_identifier(name: str) -> str:
    """A column name as a SQL identifier, whatever characters an export's header holds."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Native types a typed file (Parquet) may carry for a field and keep through validation: no
# round trip through text, which cost most of a device load.
NATIVE_TYPES: dict[str, frozenset[str]] = {
    "integer": frozenset({"BIGINT", "INTEGER", "SMALLINT", "TINYINT"}),
    "double": frozenset({"DOUBLE", "FLOAT"}),
    "date": frozenset({"DATE"}),
    "timestamp": frozenset({"TIMESTAMP"}),
    "boolean": frozenset({"BOOLEAN"}),
}


def keeps_native_type(f: Field, native_type: str) -> bool:
    return native_type in NATIVE_TYPES.get(f.type, frozenset())


# Validation computes each field's cleaned text and typed value once, as these columns, and the
# rules and the insert read them: evaluating the casts once per rule cost most of a load.
def _text_column(f: Field) -> str:
    return quote_identifier(f"__text_{f.name}")


def _typed_column(f: Field) -> str:
    return quote_identifier(f"__typed_{f.name}")


def typed_value_sql(f: Field, text: str | None = None) -> str:
    """SQL that converts the text of `f` (by default its staged column) to its type.

    NULL when the text does not parse.
    """
    text = text or _text(f.name)
    if f.type == "timestamp":
        # Values with an offset are converted to UTC; values without one are UTC already
        # (the connection's time zone is UTC, see warehouse.connect).
        return f"(try_cast({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    if f.type == "boolean":
        return (
            f"CASE lower({text}) WHEN 'true' THEN true WHEN 'false' THEN false "
            f"WHEN '1' THEN true WHEN '0' THEN false WHEN 'yes' THEN true WHEN 'no' THEN false "
            f"ELSE NULL END"
        )
    if f.type == "varchar":
        return text
    return f"try_cast({text} AS {f.sql_type})"


def _native_value(f: Field) -> str:
    return f"CAST({_text_column(f)} AS {f.sql_type})"


def _field_reasons(f: Field) -> list[str]:
    """SQL expressions, one per rule of `f`, each yielding a reason string or NULL."""
    text = _text_column(f)
    typed = _typed_column(f)
    name = f.name
    reasons: list[str] = []
    if f.required:
        reasons.append(f"CASE WHEN {text} IS NULL THEN {_literal(f'{name} is missing')} END")
    if f.type != "varchar":
        reasons.append(
            f"CASE WHEN {text} IS NOT NULL AND {typed} IS NULL "
            f"THEN {_literal(f'{name} is not a valid {f.type}: ')} || {text} END"
        )
    if f.min_value is not None:
        reasons.append(
            f"CASE WHEN {typed} < {f.min_value} "
            f"THEN {_literal(f'{name} below {f.min_value:g}: ')} || CAST({text} AS VARCHAR) END"
        )
    if f.max_value is not None:
        reasons.append(
            f"CASE WHEN {typed} > {f.max_value} "
            f"THEN {_literal(f'{name} above {f.max_value:g}: ')} || CAST({text} AS VARCHAR) END"
        )
    if f.allowed is not None:
        allowed_sql = ", ".join(_literal(v) for v in f.allowed)
        reasons.append(
            f"CASE WHEN {text} IS NOT NULL AND lower({text}) NOT IN ({allowed_sql}) "
            f"THEN {_literal(f'{name} has unknown value: ')} || {text} END"
        )
    if f.not_future:
        reasons.append(
            f"CASE WHEN {typed} > _extract_date + INTERVAL 2 DAY THEN "
            f"{_literal(f'{name} is more than a day in the future: ')} || CAST({text} AS VARCHAR) "
            "END"
        )
    return reasons


PARAM_EXTRACT_DATE = "CAST($extract_date AS DATE)"


def validation_select_sql(
    contract: Contract,
    staged_table: str,
    extract_date_sql: str = PARAM_EXTRACT_DATE,
    native: frozenset[str] = frozenset(),
    earlier_rows: str | None = None,
) -> str:
    """A SELECT over `staged_table` adding `_reason` ('' when the row meets the contract).

    Besides the staged columns it yields `_extract_date` and each field's typed value (read by
    typed_insert_sql). The extract date is the parameter `$extract_date`, or for staged rows of
    several extracts an SQL expression over the staged columns. Duplicate keys within one extract
    keep the first occurrence (by file and line) and quarantine the rest, so a rerun cannot
    double a row either. Fields named in `native` are staged in their own type (see
    keeps_native_type) rather than as text. `earlier_rows` is a table of rows already loaded
    from the extract's earlier files (a file at a time): a key found there is a duplicate too.
    """
    reason_exprs: list[str] = []
    for f in contract.fields:
        reason_exprs.extend(_field_reasons(f))
    reason_exprs.extend(
        f"CASE WHEN {rule.violation_sql} THEN {_literal(rule.reason)} END"
        for rule in contract.row_rules
    )
    by_name = {f.name: f for f in contract.fields}
    key_fields = [by_name[k] for k in contract.unique_key]
    # Where rows sharing a key are versions, only a copy identical in every field is a duplicate:
    # the other fields join the grouping, compared with NULL equal to NULL.
    other_fields = (
        [f for f in contract.fields if f.name not in contract.unique_key]
        if contract.key_shared_by_versions
        else []
    )
    key_label = ", ".join(contract.unique_key)
    duplicate_reason = (
        f"duplicate row (same {key_label} and every other field) in this extract"
        if contract.key_shared_by_versions
        else f"duplicate {key_label} in this extract"
    )
    # A missing key is reported as missing, not as a duplicate of other missing keys. Repeated
    # keys are found by grouping the keys alone: a window over the staged rows carried every
    # column through a sort, three quarters of the time of a 4 M-row device load.
    # One reason, whether the earlier copy is in this file or in an earlier file of the extract.
    repeated_here = (
        "(_repeated._first_row IS NOT NULL AND "
        "struct_pack(f := _source_file, l := _source_line) <> _repeated._first_row)"
    )
    if earlier_rows is not None:
        same_row = " AND ".join(
            [f"_earlier.{quote_identifier(f.name)} = {_typed_column(f)}" for f in key_fields]
            + [
                f"_earlier.{quote_identifier(f.name)} IS NOT DISTINCT FROM {_typed_column(f)}"
                for f in other_fields
            ]
        )
        repeated_here += (
            f" OR EXISTS (SELECT 1 FROM {earlier_rows} AS _earlier "
            f"WHERE _earlier._extract_date = _checked._extract_date AND {same_row})"
        )
    reason_exprs.append(f"CASE WHEN {repeated_here} THEN {_literal(duplicate_reason)} END")
    reasons = ",\n        ".join(reason_exprs)

    def text_value(f: Field) -> str:
        return quote_identifier(f.name) if f.name in native else _text(f.name)

    texts = ", ".join(f"{text_value(f)} AS {_text_column(f)}" for f in contract.fields)
    typed = ", ".join(
        f"{_native_value(f) if f.name in native else typed_value_sql(f, _text_column(f))} "
        f"AS {_typed_column(f)}"
        for f in contract.fields
    )
    # The group's key columns get their own names: the reasons read the staged key columns.
    group_keys = [f"_key_{i}" for i in range(len(key_fields))]
    other_keys = [f"_other_{i}" for i in range(len(other_fields))]
    key_texts = ", ".join(
        f"{text_value(f)} AS {k}"
        for f, k in zip(key_fields + other_fields, group_keys + other_keys, strict=True)
    )
    key_present = " AND ".join(f"{k} IS NOT NULL" for k in group_keys)
    repeated = (
        f"SELECT _extract_date AS _key_extract_date, {', '.join(group_keys + other_keys)}, "
        "min(struct_pack(f := _source_file, l := _source_line)) AS _first_row "
        f"FROM (SELECT {extract_date_sql} AS _extract_date, {key_texts}, _source_file, "
        f"_source_line FROM {staged_table}) WHERE {key_present} GROUP BY ALL HAVING count(*) > 1"
    )
    key_join = " AND ".join(
        [
            f"_repeated.{k} = _checked.{_text_column(f)}"
            for f, k in zip(key_fields, group_keys, strict=True)
        ]
        + [
            f"_repeated.{k} IS NOT DISTINCT FROM _checked.{_text_column(f)}"
            for f, k in zip(other_fields, other_keys, strict=True)
        ]
    )
    # Only what the loads read back: typed values, lineage, reason.
    kept = ", ".join(
        [_typed_column(f) for f in contract.fields]
        + ["_extract_date", "_source_file", "_source_line", "_raw_record"]
    )
    # A row the reader could not split into the file's columns (`_parse_error`, e.g. a ragged
    # CSV row) has no field values to judge: its reader's reason is its only one.
    return (
        f"SELECT {kept}, coalesce(_parse_error, concat_ws('; ',\n        {reasons}\n    )) "
        "AS _reason\n"
        f"FROM (SELECT *, {typed} FROM (SELECT *, {extract_date_sql} AS _extract_date, {texts} "
        f"FROM {staged_table})) AS _checked\n"
        f"LEFT JOIN ({repeated}) AS _repeated\n"
        f"ON _repeated._key_extract_date = _checked._extract_date AND {key_join}"
    )


def raw_table_ddl(contract: Contract, schema: str) -> str:
    """CREATE TABLE for the typed raw table of a contract, with lineage columns."""
    cols = ",\n    ".join(f"{quote_identifier(f.name)} {f.sql_type}" for f in contract.fields)
    return (
        f"CREATE TABLE IF NOT EXISTS {schema}.{contract.table} (\n    {cols},\n"
        "    _extract_date DATE NOT NULL,\n    _source_file VARCHAR NOT NULL,\n"
        "    _source_line BIGINT NOT NULL,\n    _loaded_at TIMESTAMP NOT NULL\n)"
    )


def added_columns_ddl(con: duckdb.DuckDBPyConnection, contract: Contract, schema: str) -> list[str]:
    """ALTER TABLE statements adding the contract's fields that the raw table lacks."""
    present = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = $schema AND table_name = $table",
            {"schema": schema, "table": contract.table},
        ).fetchall()
    }
    return [
        f"ALTER TABLE {schema}.{contract.table} ADD COLUMN {quote_identifier(f.name)} {f.sql_type}"
        for f in contract.fields
        if f.name not in present
    ]


def quarantine_table_ddl(contract: Contract, schema: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {schema}.{contract.quarantine_table} (\n"
        "    _extract_date DATE NOT NULL,\n    source_file VARCHAR NOT NULL,\n"
        "    source_line BIGINT NOT NULL,\n    raw_record VARCHAR,\n    reason VARCHAR NOT NULL,\n"
        "    _loaded_at TIMESTAMP NOT NULL\n)"
    )


def typed_insert_sql(contract: Contract, schema: str, checked_table: str) -> str:
    """INSERT of the rows without a reason, converted to their types."""
    names = contract.field_names()
    cols = ", ".join(quote_identifier(n) for n in names)
    values = ", ".join(_typed_column(f) for f in contract.fields)
    return (
        f"INSERT INTO {schema}.{contract.table} ({cols}, _extract_date, _source_file, "
        f"_source_line, _loaded_at)\nSELECT {values}, _extract_date, _source_file, "
        f"_source_line, CAST($loaded_at AS TIMESTAMP)\nFROM {checked_table} WHERE _reason = ''"
    )


def quarantine_insert_sql(
    contract: Contract, schema: str, checked_table: str, raw_lines: str
) -> str:
    """INSERT of the rows with a reason; the raw record comes from the staged row or `raw_lines`
    (a relation of _source_file, _source_line, _raw_record)."""
    return (
        f"INSERT INTO {schema}.{contract.quarantine_table}\n"
        f"SELECT c._extract_date, c._source_file, c._source_line, "
        f"coalesce(c._raw_record, r._raw_record), c._reason, CAST($loaded_at AS TIMESTAMP)\n"
        f"FROM {checked_table} AS c LEFT JOIN {raw_lines} AS r "
        f"ON c._source_file = r._source_file AND c._source_line = r._source_line\n"
        f"WHERE c._reason <> ''"
    )


def missing_required_columns(contract: Contract, columns: Sequence[str]) -> list[str]:
    """The required columns a header lacks; a group of which none is there as "a or b"."""
    present = {c.strip().lower() for c in columns}
    missing = [c for c in contract.required_columns if c.lower() not in present]
    missing += [
        " or ".join(group)
        for group in contract.required_one_of
        if not any(c.lower() in present for c in group)
    ]
    return missing
