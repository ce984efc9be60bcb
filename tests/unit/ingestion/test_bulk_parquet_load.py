"""Runs of Parquet days load a chunk per statement: same rows, counts and quarantine as day by day.

The bulk path exists for speed (a year of device snapshots); these tests pin that it changes
nothing else, and that a bad file still fails only its own partition, named.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion import loader
from ingestion.errors import LandingFileError
from ingestion.loader import load_partition, load_partitions
from ingestion.sources import SOURCES
from tests.unit.ingestion.loaded import extract_log, load_summary, loaded_tables

FIRST = date(2026, 3, 9)
DAYS = [FIRST + timedelta(days=i) for i in range(4)]
DEVICE = SOURCES["device"]
COLUMNS = (
    "device_id, employee_id, snapshot_date, device_type, model, os_version, boot_duration_s, "
    "logon_duration_s, app_crashes, app_freezes, system_crashes, cpu_saturation_pct, "
    "memory_saturation_pct, disk_free_pct, battery_health_pct, network_latency_ms"
)


def _device_day(landing: Path, day: date, *, disk: float = 50.0, duplicate: bool = False) -> Path:
    folder = landing / "device" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "devices.parquet"
    rows = [
        f"('D{i}', 'E{i}', DATE '{day}', 'laptop', 'X1', 'w11', {30 + i}.5, 20.0, 0, 1, 0, "
        f"10.0, 20.0, CAST({disk if i == 2 else 50.0} AS DOUBLE), 80.0, 12.0)"
        for i in range(1, 4)
    ]
    if duplicate:
        rows.append(rows[0])
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * FROM (VALUES {', '.join(rows)}) t({COLUMNS})) "
            f"TO '{path}' (FORMAT parquet)"
        )
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    _device_day(landing, DAYS[0])
    _device_day(landing, DAYS[1], disk=150.0)  # one row out of range
    _device_day(landing, DAYS[2], duplicate=True)  # one duplicate key in the extract
    _device_day(landing, DAYS[3])
    return landing


def test_a_chunk_of_days_loads_exactly_what_day_by_day_loads(tmp_path, landing, monkeypatch):
    chunked = list(load_partitions(tmp_path / "chunked.duckdb", landing, DEVICE, DAYS))
    by_day = [load_partition(tmp_path / "by_day.duckdb", landing, DEVICE, d) for d in DAYS]

    assert load_summary(chunked) == load_summary(by_day)
    assert loaded_tables(tmp_path / "chunked.duckdb", "device") == loaded_tables(
        tmp_path / "by_day.duckdb", "device"
    )
    assert extract_log(tmp_path / "chunked.duckdb") == extract_log(tmp_path / "by_day.duckdb")
    assert [row[1:] for row in extract_log(tmp_path / "chunked.duckdb")] == [
        (DAYS[0], 1, 3, 3, 0),
        (DAYS[1], 1, 3, 2, 1),
        (DAYS[2], 1, 4, 3, 1),
        (DAYS[3], 1, 3, 3, 0),
    ]
    raw, quarantine = loaded_tables(tmp_path / "chunked.duckdb", "device")
    assert len(raw) == 12 - 1
    reasons = sorted(row[4] for row in quarantine)
    assert reasons == [
        "disk_free_pct above 100: 150.0",
        "duplicate device_id, snapshot_date in this extract",
    ]
    # The quarantined row as read, from the right file and line.
    out_of_range = next(row for row in quarantine if "disk_free_pct" in row[4])
    assert out_of_range[0] == DAYS[1] and out_of_range[2] == 2
    assert out_of_range[1].endswith(f"{DAYS[1]}/devices.parquet")
    assert json.loads(out_of_range[3])["disk_free_pct"] == 150.0


def test_the_chunk_path_was_taken(tmp_path, landing, monkeypatch):
    # Guards the test above: it must compare the bulk path, not the per-day path twice.
    calls = []
    original = loader._load_chunk
    monkeypatch.setattr(loader, "_load_chunk", lambda *a: calls.append(a) or original(*a))
    list(load_partitions(tmp_path / "w.duckdb", landing, DEVICE, DAYS))
    assert len(calls) == 1


def test_chunks_are_cut_by_rows_and_each_replaces_its_days_on_rerun(tmp_path, landing, monkeypatch):
    monkeypatch.setattr(loader, "BULK_CHUNK_ROWS", 7)  # 3 and 4 rows a day: two days a chunk
    warehouse = tmp_path / "w.duckdb"
    list(load_partitions(warehouse, landing, DEVICE, DAYS))
    list(load_partitions(warehouse, landing, DEVICE, DAYS))  # a rerun
    raw, quarantine = loaded_tables(warehouse, "device")
    assert len(raw) == 11 and len(quarantine) == 2


def test_a_corrupt_file_fails_its_own_partition_named_and_earlier_days_stay_loaded(
    tmp_path, landing
):
    warehouse = tmp_path / "w.duckdb"
    list(load_partitions(warehouse, landing, DEVICE, DAYS))
    before = loaded_tables(warehouse, "device")
    bad = landing / "device" / DAYS[2].isoformat() / "devices.parquet"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated
    _device_day(landing, DAYS[0], disk=150.0)  # a change to an earlier day of the chunk

    loaded = []
    with pytest.raises(LandingFileError) as failure:
        loaded.extend(
            load.extract_date for load in load_partitions(warehouse, landing, DEVICE, DAYS)
        )

    assert failure.value.path == str(bad)
    assert loaded == DAYS[:2]
    raw, quarantine = loaded_tables(warehouse, "device")
    # Day 0 was reloaded (now with a quarantined row); day 2 kept its old rows.
    assert sum(1 for r in raw if r[2] == DAYS[2]) == sum(1 for r in before[0] if r[2] == DAYS[2])
    assert sum(1 for q in quarantine if q[0] == DAYS[0]) == 1


def test_days_whose_files_differ_in_columns_still_load(tmp_path, landing):
    # An export without the optional battery column: not one shape, so day by day.
    path = landing / "device" / DAYS[3].isoformat() / "devices.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * EXCLUDE (battery_health_pct) FROM '{path}') TO '{path}.tmp' "
            "(FORMAT parquet)"
        )
    Path(f"{path}.tmp").replace(path)
    loads = list(load_partitions(tmp_path / "w.duckdb", landing, DEVICE, DAYS))
    assert [load.loaded for load in loads] == [3, 2, 3, 3]
