"""ServiceNow JSON read by DuckDB stages exactly what the record-by-record Python reader stages.

DuckDB's path exists for speed (issue 20); these tests pin that every shape a Table API
response takes flattens the same way, and that what DuckDB cannot judge goes to Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingestion.mapping import mapping_for
from ingestion.readers import stage_servicenow_json, stage_servicenow_json_in_python
from ingestion.servicenow_json import stage_json_files
from ingestion.sources import ITSM

MAPPING = mapping_for("itsm")
TICKET = {
    "sys_id": "a1",
    "number": "INC0000001",
    "sys_class_name": "incident",
    "opened_at": "2026-03-09 08:00:00",
    "sys_updated_on": "2026-03-09 09:00:00",
    "state": "6",
}
RECORDS = [
    # Reference objects: display value for the catalog's fields, raw value for the others.
    {
        **TICKET,
        "priority": {"value": "2", "display_value": "2 - High"},
        "business_service": {"value": "abc", "display_value": "Outlook", "link": "https://x"},
        "cmdb_ci": {"value": "ci-9", "display_value": "Exchange Online"},
        "subcategory": {"value": "mailbox", "display_value": "Mailbox"},
        "caller_id": {"value": "E000001", "display_value": "Ann Example"},
        "made_sla": True,
        "reassignment_count": 3,
        "resolved_at": "",
    },
    # display_value=all with a link object as display value; a reference without the key
    # wanted falls back to its value; a key present with null.
    {
        **TICKET,
        "sys_id": "a2",
        "number": "INC0000002",
        "location": {"display_value": {"value": "Paris", "link": "https://l"}},
        "assignment_group": {"value": "grp-1"},
        "priority": {"value": None, "display_value": "3 - Moderate"},
        "contact_type": None,
        "made_sla": False,
        "category": 'Äpfel "quoted" ünïcode',
    },
    # No class: the number's prefix says it; an unknown prefix gets its reason.
    {k: v for k, v in TICKET.items() if k != "sys_class_name"} | {"sys_id": "a3"},
    {k: v for k, v in TICKET.items() if k != "sys_class_name"}
    | {"sys_id": "a4", "number": "RITM0000004"},
    {k: v for k, v in TICKET.items() if k != "sys_class_name"}
    | {"sys_id": "a5", "number": "PRB0000005"},
    # A record missing required fields: staged with NULLs for the contract to quarantine.
    {"sys_id": "a6", "sys_class_name": "incident"},
]


def _staged(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY _source_line").fetchall()


def _write(tmp_path: Path, document: object, name: str = "incident.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_duckdb_and_python_stage_identical_rows_from_every_record_shape(tmp_path):
    path = _write(tmp_path, {"result": RECORDS})
    with duckdb.connect() as con:
        assert stage_json_files(con, [path], ITSM, MAPPING, "fast")
        stage_servicenow_json_in_python(con, path, ITSM, "slow", MAPPING)
        fast, slow = _staged(con, "fast"), _staged(con, "slow")
        columns = [d[0] for d in con.execute("SELECT * FROM fast LIMIT 0").description]
    assert fast == slow
    assert len(fast) == len(RECORDS)
    by_id = {row[columns.index("sys_id")]: dict(zip(columns, row, strict=True)) for row in fast}
    assert by_id["a1"]["business_service"] == "Outlook"
    # The fields mapping rules name: a reference's name, a choice's value.
    assert by_id["a1"]["cmdb_ci"] == "Exchange Online"
    assert by_id["a1"]["subcategory"] == "mailbox"
    assert by_id["a1"]["priority"] == "2"
    assert by_id["a1"]["made_sla"] == "true"
    assert by_id["a1"]["reassignment_count"] == "3"
    assert by_id["a2"]["location"] == "Paris"
    assert by_id["a2"]["assignment_group"] == "grp-1"
    assert by_id["a2"]["priority"] is None
    assert by_id["a3"]["sys_class_name"] == "incident"
    assert by_id["a4"]["sys_class_name"] == "sc_req_item"
    assert by_id["a5"]["sys_class_name"] is None
    assert by_id["a5"]["_parse_error"].startswith("number PRB0000005 has no known table prefix")


def test_several_files_stage_in_one_statement_with_their_own_file_and_line(tmp_path):
    first = _write(tmp_path, {"result": RECORDS[:2]}, "incident.json")
    second = _write(tmp_path, {"result": RECORDS[2:4]}, "sc_req_item.json")
    empty = _write(tmp_path, {"result": []}, "none.json")
    with duckdb.connect() as con:
        assert stage_json_files(con, [first, second, empty], ITSM, MAPPING, "staged")
        rows = con.execute(
            "SELECT _source_file, _source_line, sys_id FROM staged ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        (str(first), 1, "a1"),
        (str(first), 2, "a2"),
        (str(second), 1, "a3"),
        (str(second), 2, "a4"),
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"result": [TICKET, "not a record"]},  # Python stages it empty, for the quarantine
        {"records": [TICKET]},  # not a Table API response
        {"result": [{k: v for k, v in TICKET.items() if k != "number"}]},  # number nowhere
        {"result": [TICKET | {"number": None}]},  # number null everywhere: the contract's call
    ],
)
def test_what_duckdb_cannot_judge_is_left_to_python(tmp_path, document):
    path = _write(tmp_path, document)
    with duckdb.connect() as con:
        assert not stage_json_files(con, [path], ITSM, MAPPING, "staged")


def test_a_record_that_is_not_an_object_is_still_staged_for_the_quarantine(tmp_path):
    path = _write(tmp_path, {"result": [TICKET, "not a record"]})
    with duckdb.connect() as con:
        stage_servicenow_json(con, path, ITSM, "staged", MAPPING)
        rows = con.execute("SELECT sys_id, _source_line FROM staged ORDER BY 2").fetchall()
    assert rows == [("a1", 1), (None, 2)]
