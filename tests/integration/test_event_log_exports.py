"""An incident event-log export (one row per update, times to the minute, several updates of a
ticket in one minute), in the shape of ServiceNow's audit exports and public incident logs,
loads through the itsm mapping, and staging keeps each ticket's last update."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_partition
from ingestion.sources import SOURCES
from orchestration.settings import DBT_PROJECT_DIR, Settings, stage_reference_seeds
from tests.integration.warehouse import dbt_env

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 2)
DBT = str(Path(sys.executable).parent / "dbt")

# The public log's columns (a subset), its day-first minute times, TRUE/FALSE and "?" for null.
HEADER = (
    "number,incident_state,active,reassignment_count,reopen_count,sys_mod_count,made_sla,"
    "caller_id,opened_at,sys_updated_at,contact_type,location,category,priority,"
    "assignment_group,resolved_at,closed_at"
)
COMMON = "Caller 2403,1/3/2026 08:00"


def update(number: str, state: str, mods: int, updated: str, resolved: str = "?", **kw) -> str:
    active = "FALSE" if state in ("Resolved", "Closed") else "TRUE"
    closed = kw.get("closed", "?")
    reopens = kw.get("reopens", 0)
    return (
        f"{number},{state},{active},0,{reopens},{mods},TRUE,{COMMON},1/3/2026 {updated},Phone,"
        f"Location 143,Category 55,3 - Moderate,Group 56,{resolved},{closed}"
    )


LOG = [
    HEADER,
    # Resolved and closed in the same minute: the close is the last update.
    update("INC0001", "New", 0, "08:00"),
    update("INC0001", "Active", 1, "08:00"),
    update("INC0001", "Resolved", 2, "10:30", "1/3/2026 10:30"),
    update("INC0001", "Closed", 3, "10:30", "1/3/2026 10:30", closed="1/3/2026 10:30"),
    # Resolved, reopened, resolved again; the export lists one minute's updates out of order,
    # so sys_mod_count, not the line, decides which is last.
    update("INC0002", "New", 0, "08:00"),
    update("INC0002", "Resolved", 1, "09:00", "1/3/2026 09:00"),
    update("INC0002", "Resolved", 3, "11:00", "1/3/2026 11:00", reopens=1),
    update("INC0002", "Active", 2, "11:00", reopens=1),
    # Never resolved: waiting on the user, then on a vendor within the same minute.
    update("INC0003", "New", 0, "08:00"),
    update("INC0003", "Awaiting User Info", 1, "09:05"),
    update("INC0003", "Awaiting Vendor", 2, "09:05"),
    update("INC0003", "Awaiting Vendor", 2, "09:05"),  # exported twice: a duplicate
]
MAPPING = 'datetime_format: "dd/MM/yyyy HH:mm"\n'


def build_staging(settings: Settings, target: Path) -> None:
    stage_reference_seeds(settings)
    result = subprocess.run(
        [
            DBT,
            "run",
            "--select",
            "stg_itsm__tickets",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
        ],
        env=dbt_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def staged(settings: Settings) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(
            "SELECT ticket_number, ticket_type, state, resolved_at, closed_at, reopen_count, "
            "made_sla FROM staging.stg_itsm__tickets ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def deliver(settings: Settings, lines: list[str]):
    folder = settings.landing_dir / "itsm" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "incident_log.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    settings.mappings_dir.mkdir(parents=True, exist_ok=True)
    (settings.mappings_dir / "itsm.yml").write_text(MAPPING, encoding="utf-8")
    return load_partition(
        settings.warehouse_path, settings.landing_dir, SOURCES["itsm"], DAY, settings.mappings_dir
    )


def test_staging_keeps_the_last_update_of_every_ticket_in_an_event_log(tmp_path):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
    load = deliver(settings, LOG)

    assert (load.rows_read, load.loaded, load.quarantined) == (12, 11, 1)
    assert list(load.quarantine_reasons) == [
        "duplicate row (same sys_id, sys_updated_on and every other field) in this extract"
    ]
    build_staging(settings, tmp_path / "target")

    at = datetime(2026, 3, 1, 10, 30)
    assert staged(settings) == [
        ("INC0001", "incident", "7", at, at, 0, True),
        ("INC0002", "incident", "6", datetime(2026, 3, 1, 11, 0), None, 1, True),
        ("INC0003", "incident", "3", None, None, 0, True),
    ]


def test_without_an_update_counter_the_later_line_of_a_minute_wins(tmp_path):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
    without_counter = [
        ",".join(cell for i, cell in enumerate(line.split(",")) if i != 5) for line in LOG
    ]
    load = deliver(settings, without_counter)
    # Both of INC0003's 09:05 updates are On Hold (3): without the counter they are the same in
    # every field the pipeline keeps, so the second is a duplicate too.
    assert (load.rows_read, load.loaded, load.quarantined) == (12, 10, 2)
    build_staging(settings, tmp_path / "target")

    # INC0002's out-of-order minute now ends on its later line: reopened, not resolved.
    ((number, _, state, resolved, *_),) = [r for r in staged(settings) if r[0] == "INC0002"]
    assert (number, state, resolved) == ("INC0002", "2", None)
    assert [r[2] for r in staged(settings)] == ["7", "2", "3"]
