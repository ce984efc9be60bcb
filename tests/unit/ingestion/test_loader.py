"""Contracts, quarantine and idempotent partition loads, one bad-input kind at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.errors import LandingFileError
from ingestion.loader import extract_dates, load_partition
from ingestion.sources import SOURCES

DAY = date(2026, 3, 10)
SURVEY_HEADER = (
    "response_id,survey_type,ticket_number,topic,responded_at,respondent_id,happiness,"
    "lost_time_minutes,factors,comment,language"
)
GOOD_SURVEY = "R1,ticket,INC1,,2026-03-10T09:00:00Z,E1,9,30,speed_of_service,,en"


def write(landing: Path, source: str, name: str, text: str | bytes, day: date = DAY) -> Path:
    folder = landing / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "warehouse.duckdb", tmp_path / "landing"


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("R2,ticket,INC2,,2026-03-10T09:00:00Z,E2,11,5,,,en", "happiness above 10: 11"),
        ("R2,ticket,INC2,,2026-03-10T09:00:00Z,E2,very,5,,,en", "happiness is not a valid integer"),
        ("R2,ticket,INC2,,2026-03-10T09:00:00Z,,9,5,,,en", "respondent_id is missing"),
        ("R2,ticket,INC2,,not-a-date,E2,9,5,,,en", "responded_at is not a valid timestamp"),
        ("R2,ticket,INC2,,2026-03-13T09:00:00Z,E2,9,5,,,en", "more than a day in the future"),
        ("R2,email,INC2,,2026-03-10T09:00:00Z,E2,9,5,,,en", "survey_type has unknown value: email"),
        ("R2,ticket,INC2,,2026-03-10T09:00:00Z,E2,9,-5,,,en", "lost_time_minutes below 0"),
        ("R2,ticket,,,2026-03-10T09:00:00Z,E2,9,5,,,en", "ticket survey without ticket_number"),
        ("R1,ticket,INC2,,2026-03-10T09:00:00Z,E2,9,5,,,en", "duplicate response_id"),
    ],
)
def test_each_bad_survey_row_is_quarantined_with_its_reason(paths, bad_line, reason):
    warehouse, landing = paths
    path = write(
        landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n{bad_line}\n"
    )

    load = load_partition(warehouse, landing, SOURCES["survey"], DAY)

    assert (load.rows_read, load.loaded, load.quarantined) == (2, 1, 1)
    quarantined = rows(
        warehouse, "SELECT source_file, source_line, reason, raw_record FROM raw.quarantine_survey"
    )
    assert len(quarantined) == 1
    source_file, line, found_reason, raw_record = quarantined[0]
    assert source_file == str(path)
    assert line == 3  # header is line 1, the good row line 2
    assert reason in found_reason
    assert json.loads(raw_record)["response_id"] == bad_line.split(",")[0]


def test_a_timestamp_with_an_offset_is_stored_in_utc(paths):
    warehouse, landing = paths
    line = "R1,ticket,INC1,,2026-03-10T09:00:00+02:00,E1,9,30,,,en"
    write(landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n{line}\n")

    load_partition(warehouse, landing, SOURCES["survey"], DAY)

    assert rows(warehouse, "SELECT strftime(responded_at, '%H:%M') FROM raw.survey_responses") == [
        ("07:00",)
    ]


def test_rerun_of_a_partition_replaces_its_rows(paths):
    warehouse, landing = paths
    write(landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n")
    bad = "R9,ticket,INC9,,2026-03-10T09:00:00Z,E9,42,5,,,en"
    write(landing, "survey", "more.csv", f"{SURVEY_HEADER}\n{bad}\n")

    for _ in range(3):
        load_partition(warehouse, landing, SOURCES["survey"], DAY)

    assert rows(warehouse, "SELECT count(*) FROM raw.survey_responses") == [(1,)]
    assert rows(warehouse, "SELECT count(*) FROM raw.quarantine_survey") == [(1,)]


def test_rerun_leaves_other_partitions_alone(paths):
    warehouse, landing = paths
    other_day = date(2026, 3, 9)
    write(landing, "survey", "a.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n", day=other_day)
    write(landing, "survey", "a.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY.replace('R1', 'R2')}\n")
    load_partition(warehouse, landing, SOURCES["survey"], other_day)
    load_partition(warehouse, landing, SOURCES["survey"], DAY)
    load_partition(warehouse, landing, SOURCES["survey"], DAY)

    assert rows(
        warehouse, "SELECT _extract_date, response_id FROM raw.survey_responses ORDER BY 1"
    ) == [(other_day, "R1"), (DAY, "R2")]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("tickets.json", '{"result": [{"sys_id": "a"', "is not valid JSON"),
        ("tickets.json", b"\xff\xfe\x00garbage\x00", "is not UTF-8 text"),
        ("tickets.json", "", "the file is empty"),
        ("tickets.json", '{"records": []}', "expected a ServiceNow Table API object"),
    ],
)
def test_an_unreadable_itsm_file_fails_its_partition_and_changes_nothing(
    paths, name, content, problem
):
    warehouse, landing = paths
    good = {
        "sys_id": "s1",
        "number": "INC1",
        "sys_class_name": "incident",
        "opened_at": "2026-03-10 08:00:00",
        "sys_updated_on": "2026-03-10 08:00:00",
        "state": "1",
    }
    write(landing, "itsm", "a_good.json", json.dumps({"result": [good]}))
    load_partition(warehouse, landing, SOURCES["itsm"], DAY)
    write(landing, "itsm", "b_more.json", json.dumps({"result": [{**good, "sys_id": "s2"}]}))
    bad = write(landing, "itsm", name, content)

    with pytest.raises(LandingFileError) as error:
        load_partition(warehouse, landing, SOURCES["itsm"], DAY)

    assert str(bad) in str(error.value)
    assert problem in str(error.value)
    # The partition is exactly as the previous good load left it: s1 only, not s2.
    assert rows(warehouse, "SELECT sys_id FROM raw.itsm_tickets") == [("s1",)]


def test_a_csv_missing_a_required_column_fails_with_the_column_named(paths):
    warehouse, landing = paths
    header = SURVEY_HEADER.replace("happiness,", "")
    write(landing, "survey", "responses.csv", f"{header}\nR1,ticket,INC1,,2026-03-10,E1,30,,,en\n")

    with pytest.raises(LandingFileError, match=r"required column.*happiness"):
        load_partition(warehouse, landing, SOURCES["survey"], DAY)


def test_servicenow_reference_fields_load_in_both_shapes(paths):
    warehouse, landing = paths
    base = {
        "number": "INC1",
        "sys_class_name": "incident",
        "opened_at": "2026-03-09 08:00:00",
        "resolved_at": "2026-03-10 08:00:00",
        "sys_updated_on": "2026-03-10 08:00:00",
        "state": "6",
        "made_sla": "false",
        "reassignment_count": "2",
    }
    plain = {**base, "sys_id": "p", "business_service": "Email", "caller_id": "E1", "priority": "2"}
    display_all = {
        **base,
        "sys_id": "d",
        "number": "INC2",
        "business_service": {"value": "9f1c", "display_value": "Email"},
        "caller_id": {"value": "E2", "display_value": "Jane Doe"},
        "priority": {"value": "2", "display_value": "2 - High"},
    }
    write(landing, "itsm", "incident.json", json.dumps({"result": [plain, display_all]}))

    load = load_partition(warehouse, landing, SOURCES["itsm"], DAY)

    assert load.quarantined == 0
    assert rows(
        warehouse,
        "SELECT sys_id, business_service, caller_id, priority, made_sla, reassignment_count "
        "FROM raw.itsm_tickets ORDER BY sys_id",
    ) == [("d", "Email", "E2", "2", False, 2), ("p", "Email", "E1", "2", False, 2)]


def test_a_ticket_resolved_before_it_was_opened_is_quarantined(paths):
    warehouse, landing = paths
    record = {
        "sys_id": "s1",
        "number": "INC1",
        "sys_class_name": "incident",
        "opened_at": "2026-03-10 08:00:00",
        "resolved_at": "2026-03-09 08:00:00",
        "sys_updated_on": "2026-03-10 08:00:00",
        "state": "6",
        "priority": "7",
    }
    good = {**record, "sys_id": "s0", "number": "INC0", "resolved_at": "", "priority": "2"}
    write(landing, "itsm", "incident.json", json.dumps({"result": [good, record]}))

    load = load_partition(warehouse, landing, SOURCES["itsm"], DAY)

    assert load.quarantined == 1
    assert load.quarantine_reasons == {
        "priority has unknown value: 7; resolved_at before opened_at": 1
    }
    # The quarantined record as it was in the file, at its position in `result`.
    [(line, raw_record)] = rows(
        warehouse, "SELECT source_line, raw_record FROM raw.quarantine_itsm"
    )
    assert line == 2 and json.loads(raw_record) == record


def test_device_parquet_loads_and_out_of_range_values_are_quarantined(paths):
    warehouse, landing = paths
    folder = landing / "device" / DAY.isoformat()
    folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT * FROM (VALUES
            ('D1', 'E1', DATE '2026-03-10', 'laptop', 'X1', 'w11', 30.5, 20.0, 0, 1, 0,
             10.0, 20.0, 50.0, 80.0, 12.0),
            ('D2', 'E2', DATE '2026-03-10', 'laptop', 'X1', 'w11', 30.5, 20.0, 0, 1, 0,
             10.0, 20.0, 150.0, 80.0, 12.0)
        ) t(device_id, employee_id, snapshot_date, device_type, model, os_version,
            boot_duration_s, logon_duration_s, app_crashes, app_freezes, system_crashes,
            cpu_saturation_pct, memory_saturation_pct, disk_free_pct, battery_health_pct,
            network_latency_ms)) TO '{folder / "devices.parquet"}' (FORMAT parquet)"""
    )

    load = load_partition(warehouse, landing, SOURCES["device"], DAY)

    assert (load.loaded, load.quarantined) == (1, 1)
    assert list(load.quarantine_reasons) == ["disk_free_pct above 100: 150.0"]


def test_a_day_without_a_landing_folder_loads_nothing_and_says_so(paths):
    warehouse, landing = paths
    load = load_partition(warehouse, landing, SOURCES["directory"], DAY)
    assert load.files == []
    assert rows(warehouse, "SELECT count(*) FROM raw.directory_employees") == [(0,)]


def test_extract_dates_are_the_dated_folders_of_any_source(tmp_path):
    landing = tmp_path / "landing"
    for source, day in (("survey", "2026-03-02"), ("itsm", "2026-03-01"), ("device", "notes")):
        (landing / source / day).mkdir(parents=True)
    assert extract_dates(landing) == [date(2026, 3, 1), date(2026, 3, 2)]


def test_rows_missing_their_key_are_not_called_duplicates(paths):
    warehouse, landing = paths
    write(
        landing,
        "directory",
        "sys_user.csv",
        "employee_id,department,country,location,job_role,vip\n,HR,FI,Helsinki,Analyst,false\n"
        ",IT,FI,Helsinki,Engineer,false\nE1,IT,FI,Helsinki,Engineer,true\n",
    )

    load = load_partition(warehouse, landing, SOURCES["directory"], DAY)

    assert load.quarantine_reasons == {"employee_id is missing": 2}


def test_a_key_repeated_across_files_of_one_extract_keeps_its_first_occurrence(paths):
    """First by file name, then by line: the copies in b.csv and on a later line go."""
    warehouse, landing = paths
    r2 = GOOD_SURVEY.replace("R1", "R2")
    write(landing, "survey", "b.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n{r2}\n")
    write(landing, "survey", "a.csv", f"{SURVEY_HEADER}\n{r2}\n{GOOD_SURVEY}\n{r2}\n")

    load = load_partition(warehouse, landing, SOURCES["survey"], DAY)

    assert load.quarantine_reasons == {"duplicate response_id in this extract": 3}
    kept = rows(
        warehouse, "SELECT response_id, _source_file, _source_line FROM raw.survey_responses"
    )
    assert sorted((r, Path(f).name, line) for r, f, line in kept) == [
        ("R1", "a.csv", 3),
        ("R2", "a.csv", 2),
    ]
    quarantined = rows(
        warehouse, "SELECT source_file, source_line FROM raw.quarantine_survey ORDER BY ALL"
    )
    assert [(Path(f).name, line) for f, line in quarantined] == [
        ("a.csv", 4),
        ("b.csv", 2),
        ("b.csv", 3),
    ]


def test_a_copy_repeated_in_its_file_and_in_an_earlier_file_gets_one_reason(paths):
    warehouse, landing = paths
    write(landing, "survey", "a.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n")
    write(landing, "survey", "b.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n{GOOD_SURVEY}\n")

    load = load_partition(warehouse, landing, SOURCES["survey"], DAY)

    assert load.quarantine_reasons == {"duplicate response_id in this extract": 2}


def test_a_process_that_dies_mid_load_leaves_the_partition_as_it_was(paths):
    warehouse, landing = paths
    write(landing, "survey", "a.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n")
    load_partition(warehouse, landing, SOURCES["survey"], DAY)
    write(landing, "survey", "b.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY.replace('R1', 'R2')}\n")
    write(landing, "survey", "c.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY.replace('R1', 'R3')}\n")
    script = textwrap.dedent(f"""
        import os
        from datetime import date
        from pathlib import Path
        from ingestion.loader import load_partition
        from ingestion.readers import stage_csv
        from ingestion.sources import SOURCES, Source

        calls = []
        def stage_then_die(con, path, *args):
            calls.append(path)
            if len(calls) == 3:
                os._exit(9)  # killed while the partition's transaction is open
            stage_csv(con, path, *args)

        source = Source(SOURCES["survey"].contract, {{".csv": stage_then_die}})
        load_partition(Path({str(warehouse)!r}), Path({str(landing)!r}), source, date(2026, 3, 10))
    """)
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert died.returncode == 9, died.stderr

    assert rows(warehouse, "SELECT response_id FROM raw.survey_responses") == [("R1",)]


def test_a_device_is_named_by_employee_id_or_user_principal_name(paths):
    # Intune knows a device's user by sign-in name, not employee number: either will do, and
    # 30-day totals may stand in for the day's counts. A file with neither user column is
    # refused; a row with neither value is quarantined.
    warehouse, landing = paths
    header = (
        "device_id,user_principal_name,snapshot_date,device_type,model,boot_duration_s,"
        "app_crashes_30d,app_freezes_30d,system_crashes_30d"
    )
    write(
        landing,
        "device",
        "intune.csv",
        f"{header}\n"
        "d1,Jane.Doe@corp.example,2026-03-10,laptop,Surface,41.5,12,3,0\n"
        "d2,,2026-03-10,desktop,OptiPlex,60,0,0,1\n",
    )
    load = load_partition(warehouse, landing, SOURCES["device"], DAY)
    assert (load.loaded, load.quarantine_reasons) == (
        1,
        {"device without employee_id or user_principal_name": 1},
    )
    assert rows(
        warehouse,
        "SELECT device_id, employee_id, user_principal_name, app_crashes, app_crashes_30d, "
        "app_freezes_30d, system_crashes_30d FROM raw.device_snapshots",
    ) == [("d1", None, "Jane.Doe@corp.example", None, 12, 3, 0)]

    write(
        landing,
        "device",
        "intune.csv",
        "device_id,snapshot_date,device_type\nd3,2026-03-10,laptop\n",
    )
    with pytest.raises(
        LandingFileError, match=r"required column\(s\) missing: employee_id or user_principal_name"
    ):
        load_partition(warehouse, landing, SOURCES["device"], DAY)
