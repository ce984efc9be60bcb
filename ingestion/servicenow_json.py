"""ServiceNow Table API files read by DuckDB: many files per statement, no Python per record.

A Table API response is `{"result": [...]}`; each field of a record is a plain value or, with
`sysparm_display_value=all`, a reference object `{"value", "display_value", "link"}` whose
display value may itself be a link object. DuckDB reads every contract field as JSON (so both
shapes fit one schema) and flattens it with the rules of `readers._flatten_servicenow_value`.
Parsing a year of daily files this way is several times faster than `json.loads` and a loop
in Python (issue 20: the ticket loads were a quarter of a full refresh).

The fast path only accepts what it can judge exactly; anything else (a malformed file, another
top-level shape, a record that is not an object, a required field null or absent in every
record) is left to the per-file Python reader, which names the problem or keeps its rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from ingestion.contracts import Contract, quote_identifier
from ingestion.mapping import SourceMapping

# Reference fields whose human-readable name is what downstream models join on (the service
# mapping rules name business services, assignment groups and configuration items, not their
# sys_ids). Every other field takes the raw `value` (a category's choice value).
DISPLAY_VALUE_FIELDS = frozenset({"business_service", "assignment_group", "location", "cmdb_ci"})
_FILES_TABLE = "_xmo_json_files"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _path_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(_literal(str(p)) for p in paths) + "]"


def _scan(paths: Sequence[Path], result_type: str) -> str:
    """read_json over the files, one row per file; `records = true` spares DuckDB detecting the
    layout file by file (without it a year of small daily files took 14x as long)."""
    largest = max(p.stat().st_size for p in paths)
    return (
        f"read_json({_path_list(paths)}, columns = {{'result': {_literal(result_type)}}}, "
        "format = 'unstructured', records = true, filename = true, "
        f"maximum_object_size = {max(largest + 1024, 1 << 20)})"
    )


def _flattened(field_name: str) -> str:
    """The field's text: a reference's display or raw value, a plain value as its text."""
    f = f"r.{quote_identifier(field_name)}"
    key = "display_value" if field_name in DISPLAY_VALUE_FIELDS else "value"
    # A reference's wanted key, else its value; a link object there gives its own value.
    inner = f"CASE WHEN json_exists({f}, '$.{key}') THEN {f} -> '$.{key}' ELSE {f} -> '$.value' END"
    return (
        f"CASE json_type({f}) "
        f"WHEN 'OBJECT' THEN CASE json_type({inner}) "
        f"WHEN 'OBJECT' THEN ({inner}) ->> '$.value' WHEN 'NULL' THEN NULL "
        f"ELSE ({inner}) ->> '$' END "
        f"WHEN 'NULL' THEN NULL "
        f"ELSE {f} ->> '$' END"
    )


def _table_from_number(number_sql: str, mapping: SourceMapping) -> str:
    """SQL of SourceMapping.table_of: the mapping's table, else the number's longest prefix."""
    if mapping.table:
        return _literal(mapping.table)
    cases = " ".join(
        f"WHEN starts_with(upper(trim({number_sql})), {_literal(prefix.upper())}) "
        f"THEN {_literal(mapping.number_prefixes[prefix])}"
        for prefix in sorted(mapping.number_prefixes, key=len, reverse=True)
    )
    return f"CASE {cases} END" if cases else "CAST(NULL AS VARCHAR)"


def stage_json_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    contract: Contract,
    mapping: SourceMapping,
    staged_table: str,
) -> bool:
    """Stage every record of `paths` as text columns of the contract, with _source_file,
    _source_line (the record's position in `result`), _raw_record (NULL: see raw_lines_sql)
    and _parse_error. False, with nothing staged, where the Python reader must decide."""
    names = contract.field_names()
    struct = ", ".join(f"{quote_identifier(n)} JSON" for n in names)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_FILES_TABLE} AS "
            f"SELECT filename, result FROM {_scan(paths, f'STRUCT({struct})[]')}"
        )
        per_file = con.execute(
            f"SELECT count(*), count(DISTINCT filename), count(result) FROM {_FILES_TABLE}"
        ).fetchall()[0]
    except duckdb.Error:
        return False
    if per_file != (len(paths), len(paths), len(paths)):
        return False  # not exactly one {"result": [...]} object per file
    derived = {"sys_class_name"} if mapping.table or mapping.number_prefixes else set()
    required = [c for c in contract.required_columns if c not in derived]
    if required:
        # Per file, as the Python reader judges: a required field absent or null in every
        # record of a file that has records.
        every_file_has = " AND ".join(f"count(r.{quote_identifier(c)}) > 0" for c in required)
        (lacking,) = con.execute(
            f"SELECT count(*) FROM (SELECT filename FROM (SELECT filename, unnest(result) AS r "
            f"FROM {_FILES_TABLE}) GROUP BY filename HAVING NOT ({every_file_has}))"
        ).fetchall()[0]
        if lacking:
            return False  # the Python reader names the field, or keeps nulls for the contract
    columns = {n: _flattened(n) for n in names}
    parse_error = "CAST(NULL AS VARCHAR)"
    if derived:
        # A response of one table's endpoint may leave out the class: the number says it.
        number = columns["number"]
        from_number = _table_from_number(number, mapping)
        columns["sys_class_name"] = f"coalesce({columns['sys_class_name']}, {from_number})"
        known = ", ".join(sorted(mapping.number_prefixes)) or "none configured"
        parse_error = (
            f"CASE WHEN r.sys_class_name IS NULL AND ({from_number}) IS NULL "
            f"AND ({number}) IS NOT NULL THEN 'number ' || ({number}) || "
            f"{_literal(f' has no known table prefix ({known}); ')} || "
            "'add it to `number_prefixes` or set `table` in mappings/itsm.yml' END"
        )
    select = ", ".join(f"{sql} AS {quote_identifier(n)}" for n, sql in columns.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {staged_table} AS "
        f"SELECT {select}, filename AS _source_file, CAST(line AS BIGINT) AS _source_line, "
        f"CAST(NULL AS VARCHAR) AS _raw_record, {parse_error} AS _parse_error "
        f"FROM (SELECT filename, unnest(result) AS r, generate_subscripts(result, 1) AS line "
        f"FROM {_FILES_TABLE})"
    )
    con.execute(f"DROP TABLE {_FILES_TABLE}")
    return True


def raw_lines_sql(paths: Sequence[Path]) -> str:
    """The records of `paths` as read (_source_file, _source_line, _raw_record), for the
    quarantine: encoding every record up front would cost a fifth of the load."""
    return (
        "(SELECT filename AS _source_file, "
        "CAST(generate_subscripts(result, 1) AS BIGINT) AS _source_line, "
        "CAST(unnest(result) AS VARCHAR) AS _raw_record "
        f"FROM {_scan(paths, 'JSON[]')})"
    )
