"""CSV exports as real tools write them: ragged rows, quoting, encodings, delimiters, line ends,
ServiceNow lists without a class column and event logs with several updates in one minute."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.errors import LandingFileError
from ingestion.loader import load_partition
from ingestion.mapping import MappingError, mapping_for
from ingestion.sources import SOURCES

DAY = date(2026, 3, 10)
SURVEY_HEADER = (
    "response_id,survey_type,ticket_number,topic,responded_at,respondent_id,happiness,"
    "lost_time_minutes,factors,comment,language"
)


def survey_row(n: int, comment: str = "", happiness: int = 9) -> str:
    return f"R{n},ticket,INC{n},,2026-03-10T09:00:00Z,E{n},{happiness},30,,{comment},en"


def drop(tmp_path: Path, source: str, name: str, content: str | bytes) -> Path:
    folder = tmp_path / "landing" / source / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def mapping(tmp_path: Path, source: str, text: str) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    (folder / f"{source}.yml").write_text(text, encoding="utf-8")
    return folder


def load(tmp_path: Path, source: str, mappings: Path | None = None):
    return load_partition(
        tmp_path / "wh.duckdb", tmp_path / "landing", SOURCES[source], DAY, mappings
    )


def query(tmp_path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# --- one ragged row costs one row -----------------------------------------------------------


def test_a_survey_row_with_too_few_or_too_many_fields_is_quarantined_alone(tmp_path):
    lines = [
        SURVEY_HEADER,
        survey_row(1),
        "R2,ticket,INC2",  # three fields: a truncated line
        survey_row(3, comment="fine, thanks"),  # an unquoted comma: twelve fields
        survey_row(4),
    ]
    drop(tmp_path, "survey", "responses.csv", "\n".join(lines) + "\n")

    result = load(tmp_path, "survey")

    assert (result.rows_read, result.loaded, result.quarantined) == (4, 2, 2)
    assert query(tmp_path, "SELECT response_id, _source_line FROM raw.survey_responses") == [
        ("R1", 2),
        ("R4", 5),
    ]
    assert query(
        tmp_path, "SELECT source_line, reason, raw_record FROM raw.quarantine_survey ORDER BY 1"
    ) == [
        (3, "3 fields, expected 11 (as in the header)", "R2,ticket,INC2"),
        (4, "12 fields, expected 11 (as in the header)", lines[3]),
    ]


@pytest.mark.parametrize(
    ("source", "header", "good", "ragged"),
    [
        (
            "directory",
            "employee_id,department,country,location,job_role,vip",
            "E1,Finance,FI,Helsinki,Analyst,false",
            "E2,Finance,FI",
        ),
        (
            "device",
            "device_id,employee_id,snapshot_date,device_type,model,os_version,boot_duration_s,"
            "logon_duration_s,app_crashes,app_freezes,system_crashes,cpu_saturation_pct,"
            "memory_saturation_pct,disk_free_pct,battery_health_pct,network_latency_ms",
            "D1,E1,2026-03-10,laptop,Latitude,Win 11,40,20,0,0,0,5,10,50,90,15",
            "D2,E2,2026-03-10,laptop,Latitude,Win 11,40,20,0,0,0,5,10,50,90,15,extra,cells",
        ),
        (
            "itsm",
            "Number,Opened,Updated,State,Task type",
            "INC1,2026-03-09 08:00:00,2026-03-10 08:00:00,Resolved,Incident",
            "INC2,2026-03-09 08:00:00",
        ),
    ],
)
def test_every_csv_source_quarantines_a_ragged_row_and_loads_the_rest(
    tmp_path, source, header, good, ragged
):
    expected = len(header.split(","))
    found = len(ragged.split(","))
    drop(tmp_path, source, "export.csv", f"{header}\n{ragged}\n{good}\n")

    result = load(tmp_path, source)

    assert (result.rows_read, result.loaded, result.quarantined) == (2, 1, 1)
    assert query(tmp_path, f"SELECT source_line, reason FROM raw.quarantine_{source}") == [
        (2, f"{found} fields, expected {expected} (as in the header)")
    ]


# --- quoting, delimiters, line ends, byte-order marks ---------------------------------------


def test_quoted_delimiters_doubled_quotes_and_line_breaks_load_with_their_lines(tmp_path):
    quoted = 'R2,ticket,INC2,,2026-03-10T09:00:00Z,E2,7,5,,"said ""hi"", then\nleft",en'
    lines = [SURVEY_HEADER, survey_row(1), quoted, "R3,ticket,INC3", survey_row(4)]
    drop(tmp_path, "survey", "responses.csv", "\n".join(lines) + "\n")

    result = load(tmp_path, "survey")

    assert (result.rows_read, result.loaded, result.quarantined) == (4, 3, 1)
    # The quoted record spans lines 3-4, so the ragged one is on line 5 and R4 on line 6.
    assert query(
        tmp_path, "SELECT response_id, comment, _source_line FROM raw.survey_responses ORDER BY 1"
    ) == [("R1", None, 2), ("R2", 'said "hi", then\nleft', 3), ("R4", None, 6)]
    assert query(tmp_path, "SELECT source_line FROM raw.quarantine_survey") == [(5,)]


@pytest.mark.parametrize(
    ("variant", "encode"),
    [
        ("utf-8, LF", lambda text: text.encode("utf-8")),
        ("utf-8 with BOM, CRLF", lambda text: text.replace("\n", "\r\n").encode("utf-8-sig")),
        ("semicolons (European Excel)", lambda text: text.replace(",", ";").encode("utf-8")),
        (
            "Excel 'Unicode text': UTF-16 with BOM, tabs, CRLF",
            lambda text: text.replace(",", "\t").replace("\n", "\r\n").encode("utf-16"),
        ),
    ],
)
def test_a_survey_file_loads_in_every_common_shape(tmp_path, variant, encode):
    text = "\n".join([SURVEY_HEADER, survey_row(1, comment="hyvä työ"), survey_row(2)]) + "\n"
    drop(tmp_path, "survey", "responses.csv", encode(text))

    result = load(tmp_path, "survey")

    assert (result.rows_read, result.loaded, result.quarantined) == (2, 2, 0), variant
    assert query(
        tmp_path,
        "SELECT response_id, happiness, comment, _source_line FROM raw.survey_responses ORDER BY 1",
    ) == [("R1", 9, "hyvä työ", 2), ("R2", 9, None, 3)]


def test_a_clean_file_and_the_same_rows_read_record_by_record_load_the_same(tmp_path):
    # DuckDB parses clean files; a blank line sends the same rows through the csv module.
    rows = [survey_row(n, comment=f"comment {n}", happiness=n % 11) for n in range(1, 40)]
    rows[5] = rows[5].replace(",en", ",")  # an empty last field
    clean = "\n".join([SURVEY_HEADER, *rows]) + "\n"
    drop(tmp_path, "survey", "responses.csv", clean)
    load(tmp_path, "survey")
    columns = (
        "response_id, survey_type, ticket_number, topic, responded_at, respondent_id, happiness,"
        " lost_time_minutes, factors, comment, language, _source_line"
    )
    by_duckdb = query(tmp_path, f"SELECT {columns} FROM raw.survey_responses ORDER BY 1")

    drop(tmp_path, "survey", "responses.csv", clean + "\n\n")
    load(tmp_path, "survey")
    by_records = query(tmp_path, f"SELECT {columns} FROM raw.survey_responses ORDER BY 1")

    assert len(by_duckdb) == 39
    assert by_records == by_duckdb


# --- encodings ------------------------------------------------------------------------------

WINDOWS_1252 = (
    "\n".join([SURVEY_HEADER, survey_row(1), survey_row(2, comment="hyvä työ – kiitos")]) + "\r\n"
).encode("cp1252")


def test_a_windows_1252_file_loads_with_its_encoding_set(tmp_path):
    drop(tmp_path, "survey", "responses.csv", WINDOWS_1252)
    mappings = mapping(tmp_path, "survey", "encoding: cp1252\n")

    result = load(tmp_path, "survey", mappings)

    assert result.loaded == 2
    assert query(tmp_path, "SELECT comment FROM raw.survey_responses WHERE response_id = 'R2'") == [
        ("hyvä työ – kiitos",)
    ]


def test_an_encoding_list_reads_utf8_and_windows_1252_files_side_by_side(tmp_path):
    drop(tmp_path, "survey", "a.csv", WINDOWS_1252)
    drop(tmp_path, "survey", "b.csv", f"{SURVEY_HEADER}\n{survey_row(3, comment='hyvä')}\n")
    mappings = mapping(tmp_path, "survey", "encoding: [utf-8, cp1252]\n")

    result = load(tmp_path, "survey", mappings)

    assert result.loaded == 3
    assert query(tmp_path, "SELECT comment FROM raw.survey_responses ORDER BY 1") == [
        ("hyvä",),
        ("hyvä työ – kiitos",),
        (None,),
    ]


def test_a_file_not_in_its_declared_encoding_fails_naming_file_encoding_line_and_setting(
    tmp_path,
):
    drop(tmp_path, "survey", "responses.csv", f"{SURVEY_HEADER}\n{survey_row(1)}\n")
    load(tmp_path, "survey")  # an earlier good delivery of the day
    drop(tmp_path, "survey", "responses.csv", WINDOWS_1252)

    with pytest.raises(LandingFileError) as failure:
        load(tmp_path, "survey")

    message = str(failure.value)
    assert "responses.csv" in message
    assert "not valid utf-8 text (line 3" in message
    assert "set `encoding: cp1252` in $XMO_DATA_DIR/mappings/survey.yml" in message
    # The partition stays as it was.
    assert query(tmp_path, "SELECT response_id FROM raw.survey_responses") == [("R1",)]


def test_utf16_without_a_byte_order_mark_needs_its_setting(tmp_path):
    text = f"{SURVEY_HEADER}\n{survey_row(1)}\n".replace(",", "\t")
    drop(tmp_path, "survey", "responses.csv", text.encode("utf-16-le"))

    with pytest.raises(LandingFileError, match=r"encoding: utf-16"):
        load(tmp_path, "survey")
    result = load(tmp_path, "survey", mapping(tmp_path, "survey", "encoding: utf-16-le\n"))
    assert result.loaded == 1


def test_an_empty_file_and_an_unknown_encoding_setting_fail_clearly(tmp_path):
    drop(tmp_path, "survey", "responses.csv", b"")
    with pytest.raises(LandingFileError, match=r"responses\.csv: the file is empty \(0 bytes\)"):
        load(tmp_path, "survey")
    with pytest.raises(MappingError, match=r"unknown encoding 'windows-9999'"):
        mapping_for("survey", mapping(tmp_path, "survey", "encoding: windows-9999\n"))


# --- ServiceNow lists without a class column, state labels and booleans ----------------------

LIST_HEADER = "Number,Opened,Resolved,Updated,State,Made SLA"


def test_a_list_export_without_a_class_column_takes_the_table_from_the_number(tmp_path):
    rows = [
        "INC0001,2026-03-09 08:00:00,2026-03-10 08:00:00,2026-03-10 08:00:00,Resolved,TRUE",
        "RITM0002,2026-03-09 08:00:00,,2026-03-10 08:00:00,Work in Progress,FALSE",
        "PRB0003,2026-03-09 08:00:00,,2026-03-10 08:00:00,New,Yes",
    ]
    drop(tmp_path, "itsm", "list.csv", "\n".join([LIST_HEADER, *rows]) + "\n")

    result = load(tmp_path, "itsm")

    assert (result.rows_read, result.loaded, result.quarantined) == (3, 2, 1)
    assert query(
        tmp_path, "SELECT number, sys_class_name, made_sla FROM raw.itsm_tickets ORDER BY 1"
    ) == [("INC0001", "incident", True), ("RITM0002", "sc_req_item", False)]
    ((line, reason),) = query(tmp_path, "SELECT source_line, reason FROM raw.quarantine_itsm")
    assert line == 4
    assert reason.startswith("number PRB0003 has no known table prefix (INC, RITM)")


def test_a_list_export_carries_the_fields_service_mapping_rules_name(tmp_path):
    header = "Number,Opened,Updated,State,Assignment group,Category,Subcategory,Configuration item"
    row = "INC0001,2026-03-09 08:00:00,2026-03-10 08:00:00,New,Network Operations,Network,VPN,"
    drop(tmp_path, "itsm", "list.csv", f"{header}\n{row}ASA-5500 Helsinki\n")

    load(tmp_path, "itsm")

    assert query(
        tmp_path, "SELECT assignment_group, category, subcategory, cmdb_ci FROM raw.itsm_tickets"
    ) == [("Network Operations", "Network", "VPN", "ASA-5500 Helsinki")]


def test_prefixes_and_a_file_wide_table_come_from_the_mapping(tmp_path):
    rows = ["SR0001,2026-03-09 08:00:00,,2026-03-10 08:00:00,New,No"]
    drop(tmp_path, "itsm", "list.csv", "\n".join([LIST_HEADER, *rows]) + "\n")

    load(tmp_path, "itsm", mapping(tmp_path, "itsm", "number_prefixes: {SR: sc_req_item}\n"))
    assert query(tmp_path, "SELECT sys_class_name FROM raw.itsm_tickets") == [("sc_req_item",)]

    load(tmp_path, "itsm", mapping(tmp_path, "itsm", "table: incident\n"))
    assert query(tmp_path, "SELECT sys_class_name FROM raw.itsm_tickets") == [("incident",)]


def test_a_table_api_file_without_a_class_field_takes_it_from_the_number(tmp_path):
    record = {
        "sys_id": "a1",
        "number": "INC0001",
        "opened_at": "2026-03-09 08:00:00",
        "sys_updated_on": "2026-03-10 08:00:00",
        "state": "2",
    }
    drop(tmp_path, "itsm", "incident.json", json.dumps({"result": [record]}))

    assert load(tmp_path, "itsm").loaded == 1
    assert query(tmp_path, "SELECT sys_class_name FROM raw.itsm_tickets") == [("incident",)]


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("Active", "2"),
        ("Awaiting User Info", "3"),
        ("Awaiting Problem", "3"),
        ("Awaiting Vendor", "3"),
        ("Awaiting Evidence", "3"),
        ("Resolved", "6"),
        ("Closed", "7"),
    ],
)
def test_event_log_state_labels_become_codes(tmp_path, label, code):
    row = f"INC0001,2026-03-09 08:00:00,,2026-03-10 08:00:00,{label},1"
    drop(tmp_path, "itsm", "log.csv", f"{LIST_HEADER}\n{row}\n")

    load(tmp_path, "itsm")

    assert query(tmp_path, "SELECT state, made_sla FROM raw.itsm_tickets") == [(code, True)]


# --- event logs: several updates of one ticket in one minute ---------------------------------


def test_same_minute_updates_are_versions_and_identical_rows_duplicates(tmp_path):
    header = "number,incident_state,sys_mod_count,opened_at,sys_updated_at,resolved_at,closed_at"
    rows = [
        "INC1,New,0,2026-03-09 08:00:00,2026-03-10 09:00:00,,",
        "INC1,Resolved,1,2026-03-09 08:00:00,2026-03-10 09:00:00,2026-03-10 09:00:00,",
        "INC1,Closed,2,2026-03-09 08:00:00,2026-03-10 09:00:00,2026-03-10 09:00:00,"
        "2026-03-10 09:00:00",
        # the same update exported twice
        "INC1,Closed,2,2026-03-09 08:00:00,2026-03-10 09:00:00,2026-03-10 09:00:00,"
        "2026-03-10 09:00:00",
    ]
    drop(tmp_path, "itsm", "log.csv", "\n".join([header, *rows]) + "\n")

    result = load(tmp_path, "itsm")

    assert (result.rows_read, result.loaded, result.quarantined) == (4, 3, 1)
    assert query(tmp_path, "SELECT state, sys_mod_count FROM raw.itsm_tickets ORDER BY 2") == [
        ("1", 0),
        ("6", 1),
        ("7", 2),
    ]
    assert query(tmp_path, "SELECT source_line, reason FROM raw.quarantine_itsm") == [
        (5, "duplicate row (same sys_id, sys_updated_on and every other field) in this extract")
    ]
    assert query(tmp_path, "SELECT DISTINCT closed_at FROM raw.itsm_tickets WHERE state = '7'") == [
        (datetime(2026, 3, 10, 9, 0),)
    ]
