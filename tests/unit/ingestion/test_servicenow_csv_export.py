"""ServiceNow list exports (CSV) load through the itsm mapping without code changes."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.errors import LandingFileError
from ingestion.loader import load_partition
from ingestion.mapping import MappingError, java_to_strptime, mapping_for
from ingestion.sources import SOURCES

FIXTURES = Path(__file__).parents[2] / "fixtures" / "itsm"
DAY = date(2026, 3, 3)


@pytest.fixture
def export_day(tmp_path: Path) -> tuple[Path, Path, Path]:
    landing = tmp_path / "landing"
    folder = landing / "itsm" / DAY.isoformat()
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "valid" / "incident_list_export.csv", folder / "incident.csv")
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    # The instance shows day-first dates in the exporting user's zone (Helsinki, UTC+2 in March).
    shutil.copy(FIXTURES / "valid" / "itsm_day_first_helsinki.yml", mappings / "itsm.yml")
    return tmp_path / "wh.duckdb", landing, mappings


def test_a_hand_written_list_export_loads_every_row(export_day):
    warehouse, landing, mappings = export_day
    load = load_partition(warehouse, landing, SOURCES["itsm"], DAY, mappings)
    assert (load.rows_read, load.loaded, load.quarantined) == (4, 4, 0)

    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        "SELECT sys_id, sys_class_name, opened_at, resolved_at, closed_at, state, priority, "
        "contact_type, business_service, caller_id, reassignment_count, made_sla "
        "FROM raw.itsm_tickets ORDER BY number, sys_updated_on"
    ).fetchall()
    assert rows == [
        # Display values become codes; local day-first times become UTC; "?" becomes NULL.
        (
            "INC0010001",
            "incident",
            datetime(2026, 3, 2, 7, 15),
            datetime(2026, 3, 2, 9, 45),
            None,
            "6",
            "2",
            "Phone",
            "Email",
            "E000101",
            1,
            True,
        ),
        (
            "INC0010002",
            "incident",
            datetime(2026, 3, 2, 8, 0),
            None,
            None,
            "2",
            "3",
            "Self-service",
            "VPN",
            "E000102",
            0,
            None,
        ),
        # The audit export's second row for the same ticket loads as its later version.
        (
            "INC0010002",
            "incident",
            datetime(2026, 3, 2, 8, 0),
            datetime(2026, 3, 2, 23, 30),
            None,
            "6",
            "3",
            "Self-service",
            "VPN",
            "E000102",
            2,
            False,
        ),
        (
            "RITM0020001",
            "sc_req_item",
            datetime(2026, 3, 1, 20, 10),
            None,
            datetime(2026, 3, 3, 6, 0),
            "3",
            "4",
            "Email",
            "Software Install",
            "E000103",
            0,
            True,
        ),
    ]


def test_an_export_in_another_date_format_than_configured_is_quarantined_with_the_value(
    export_day,
):
    warehouse, landing, _ = export_day
    # Without the day-first override the project default expects ISO dates.
    load = load_partition(warehouse, landing, SOURCES["itsm"], DAY)
    assert load.quarantined == 4
    assert any(
        "opened_at is not a valid timestamp: 02-03-2026 09:15" in r for r in load.quarantine_reasons
    )


def test_an_export_without_the_required_columns_fails_naming_them(export_day):
    warehouse, landing, mappings = export_day
    path = landing / "itsm" / DAY.isoformat() / "incident.csv"
    path.write_text('"Short description","Caller"\n"Printer jam","Jane Doe"\n')
    with pytest.raises(LandingFileError, match="required column"):
        load_partition(warehouse, landing, SOURCES["itsm"], DAY, mappings)


def test_an_unknown_setting_in_a_mapping_file_is_named(tmp_path):
    (tmp_path / "itsm.yml").write_text("datetime_fromat: dd-MM-yyyy\n")
    with pytest.raises(MappingError, match=r"unknown setting.*datetime_fromat"):
        mapping_for("itsm", tmp_path)


def test_an_override_keeps_the_default_columns_it_does_not_mention(tmp_path):
    (tmp_path / "itsm.yml").write_text("columns:\n  Ticket: number\n")
    mapping = mapping_for("itsm", tmp_path)
    assert mapping.rename("Ticket") == "number"
    assert mapping.rename("Opened") == "opened_at"


def test_survey_exports_with_other_headers_are_renamed_by_their_mapping(tmp_path):
    landing = tmp_path / "landing"
    folder = landing / "survey" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "export.csv").write_text(
        "Response ID,Type,Ticket,Topic,Answered,Respondent,Score,Lost minutes\n"
        "H1,ticket,INC1,,2026-03-03T08:00:00Z,E1,8,?\n"
    )
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "survey.yml").write_text(
        "columns:\n  Response ID: response_id\n  Type: survey_type\n  Ticket: ticket_number\n"
        "  Answered: responded_at\n  Respondent: respondent_id\n  Score: happiness\n"
        "  Lost minutes: lost_time_minutes\nnull_values: ['', '?']\n"
    )
    load = load_partition(tmp_path / "wh.duckdb", landing, SOURCES["survey"], DAY, mappings)
    assert (load.loaded, load.quarantined) == (1, 0)


@pytest.mark.parametrize(
    ("java", "python"),
    [
        ("dd-MM-yyyy HH:mm", "%d-%m-%Y %H:%M"),
        ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
        ("MM/dd/yyyy hh:mm a", "%m/%d/%Y %I:%M %p"),
    ],
)
def test_servicenow_date_patterns_translate_to_strptime(java, python):
    assert java_to_strptime(java) == python
