"""When is an extract date complete enough for the landing sensor to start its run?"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

from ingestion.landing import SUCCESS_MARKER, landing_status

DAY = date(2026, 3, 10)
SETTLE = 300


def deliver(
    landing: Path, source: str, name: str, content: str = "x\n", age_s: float = 3600
) -> Path:
    folder = landing / source / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content)
    written = time.time() - age_s
    os.utime(path, (written, written))
    return path


def deliver_daily_sources(landing: Path) -> None:
    deliver(landing, "survey", "responses.csv")
    deliver(landing, "itsm", "incident.json")
    deliver(landing, "device", "devices.parquet")


def test_complete_when_every_daily_source_delivered_and_settled(tmp_path):
    deliver_daily_sources(tmp_path)
    status = landing_status(tmp_path, DAY, time.time(), SETTLE)
    assert status.complete and status.files == 3
    assert status.reason == "3 files from every declared daily source"


def test_an_organisation_without_devices_is_complete_with_tickets_and_surveys(tmp_path):
    deliver(tmp_path, "survey", "responses.csv")
    deliver(tmp_path, "itsm", "incident.json")
    assert not landing_status(tmp_path, DAY, time.time(), SETTLE).complete  # all four declared
    status = landing_status(tmp_path, DAY, time.time(), SETTLE, ("itsm", "survey"))
    assert status.complete and status.files == 2
    # A stray file of a source the organisation does not declare is never loaded: it neither
    # holds the date back nor changes its fingerprint (no re-run for it).
    deliver(tmp_path, "device", "devices.parquet", age_s=1)
    again = landing_status(tmp_path, DAY, time.time(), SETTLE, ("itsm", "survey"))
    assert again.complete and again.fingerprint == status.fingerprint


def test_a_missing_daily_source_holds_the_date_back_and_is_named(tmp_path):
    deliver(tmp_path, "survey", "responses.csv")
    deliver(tmp_path, "device", "devices.parquet")
    deliver(tmp_path, "itsm", "notes.txt")  # not a file the itsm source reads
    status = landing_status(tmp_path, DAY, time.time(), SETTLE)
    assert not status.complete
    assert status.missing_sources == ("itsm",)
    assert "no files yet from itsm" in status.reason


def test_the_weekly_directory_snapshot_is_not_required(tmp_path):
    deliver_daily_sources(tmp_path)
    assert landing_status(tmp_path, DAY, time.time(), SETTLE).complete
    deliver(tmp_path, "directory", "sys_user.csv")
    assert landing_status(tmp_path, DAY, time.time(), SETTLE).files == 4


def test_files_still_being_written_wait_unless_the_folder_has_a_success_marker(tmp_path):
    deliver_daily_sources(tmp_path)
    deliver(tmp_path, "itsm", "incident_2.json", age_s=10)
    status = landing_status(tmp_path, DAY, time.time(), SETTLE)
    assert not status.complete and status.settling_sources == ("itsm",)
    (tmp_path / "itsm" / DAY.isoformat() / SUCCESS_MARKER).touch()
    assert landing_status(tmp_path, DAY, time.time(), SETTLE).complete


def test_the_fingerprint_changes_only_when_files_are_re_delivered(tmp_path):
    deliver_daily_sources(tmp_path)
    first = landing_status(tmp_path, DAY, time.time(), SETTLE).fingerprint
    assert landing_status(tmp_path, DAY, time.time(), SETTLE).fingerprint == first
    deliver(tmp_path, "itsm", "incident.json", content="corrected\n")
    assert landing_status(tmp_path, DAY, time.time(), SETTLE).fingerprint != first
