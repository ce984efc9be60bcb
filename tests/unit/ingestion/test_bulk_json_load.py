"""Runs of ServiceNow JSON days load a chunk per statement: same rows, counts and quarantine as
day by day, and a bad file still fails only its own partition, named."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from ingestion import loader
from ingestion.errors import LandingFileError
from ingestion.loader import load_partition, load_partitions
from ingestion.sources import SOURCES
from tests.unit.ingestion.loaded import load_summary, loaded_tables

FIRST = date(2026, 3, 9)
DAYS = [FIRST + timedelta(days=i) for i in range(4)]
ITSM = SOURCES["itsm"]


def _ticket(n: int, day: date, **changes: object) -> dict:
    return {
        "sys_id": f"s{n}",
        "number": f"INC{n:07d}",
        "sys_class_name": "incident",
        "opened_at": f"{day} 08:00:00",
        "sys_updated_on": f"{day} 09:00:00",
        "state": "6",
        "priority": {"value": "3", "display_value": "3 - Moderate"},
        "business_service": {"value": "x", "display_value": "Outlook"},
        "resolved_at": f"{day} 09:00:00",
        **changes,
    }


def _itsm_day(landing: Path, day: date, n: int, *, bad: bool = False) -> None:
    folder = landing / "itsm" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    incidents = [_ticket(n, day), _ticket(n + 1, day)]
    if bad:
        # Resolved before opened; a number of no known table, without a class; and a copy of
        # the first record (same sys_id, update time and fields) in the day's second file.
        incidents.append(_ticket(n + 2, day, resolved_at=f"{day - timedelta(days=1)} 07:00:00"))
        incidents.append(
            {k: v for k, v in _ticket(n + 3, day).items() if k != "sys_class_name"}
            | {"number": f"PRB{n + 3:07d}"}
        )
    (folder / "incident.json").write_text(json.dumps({"result": incidents}))
    items = [_ticket(n, day)] if bad else []
    (folder / "sc_req_item.json").write_text(json.dumps({"result": items}))


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    for i, day in enumerate(DAYS):
        _itsm_day(landing, day, 10 * i, bad=i == 1)
    return landing


def test_a_chunk_of_json_days_loads_exactly_what_day_by_day_loads(tmp_path, landing, monkeypatch):
    calls = []
    original = loader._load_chunk
    monkeypatch.setattr(loader, "_load_chunk", lambda *a: calls.append(a) or original(*a))
    chunked = list(load_partitions(tmp_path / "chunked.duckdb", landing, ITSM, DAYS))
    assert len(calls) == 1  # the bulk path was taken, not the per-day path twice
    monkeypatch.setattr(loader, "BULK_CHUNK_ROWS", 0)  # every day alone
    by_day = [load_partition(tmp_path / "by_day.duckdb", landing, ITSM, d) for d in DAYS]

    assert load_summary(chunked) == load_summary(by_day)
    assert loaded_tables(tmp_path / "chunked.duckdb", "itsm") == loaded_tables(
        tmp_path / "by_day.duckdb", "itsm"
    )
    raw, quarantine = loaded_tables(tmp_path / "chunked.duckdb", "itsm")
    assert len(raw) == 8
    reasons = sorted(row[4] for row in quarantine)
    assert len(reasons) == 3
    assert reasons[0].startswith("duplicate row")
    assert reasons[1].startswith("number PRB0000013 has no known table prefix")
    assert "resolved_at" in reasons[2]
    # The quarantined record as read, from its own file and line.
    prefix = next(row for row in quarantine if "PRB" in row[4])
    assert prefix[0] == DAYS[1] and prefix[2] == 4
    assert prefix[1].endswith(f"{DAYS[1]}/incident.json")
    assert json.loads(prefix[3])["number"] == "PRB0000013"


def test_a_malformed_json_file_fails_its_own_partition_named(tmp_path, landing):
    warehouse = tmp_path / "w.duckdb"
    list(load_partitions(warehouse, landing, ITSM, DAYS))
    before = loaded_tables(warehouse, "itsm")
    bad = landing / "itsm" / DAYS[2].isoformat() / "incident.json"
    bad.write_text(bad.read_text()[:-30])  # truncated mid-record

    loaded = []
    with pytest.raises(LandingFileError) as failure:
        loaded.extend(load.extract_date for load in load_partitions(warehouse, landing, ITSM, DAYS))

    assert failure.value.path == str(bad)
    assert "is not valid JSON" in str(failure.value)
    assert loaded == DAYS[:2]
    assert (
        loaded_tables(warehouse, "itsm") == before
    )  # day 2 kept its rows; days 0-1 reloaded the same
