"""Incremental dbt runs, day by day and with old extracts delivered again (changed, or with rows
removed), equal a full refresh."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import (
    PROJECT_SEEDS_DIR,
    Settings,
    stage_reference_seeds,
)
from tests.integration.warehouse import dbt_build, load, query

pytestmark = pytest.mark.integration

# A high response rate: the re-delivered days must hold several answers each.
CONFIG = GeneratorConfig(employees=400, days=28, start=date(2026, 5, 4), seed=21, response_rate=0.6)


def days(first: int, last: int) -> list[date]:
    return [CONFIG.start + timedelta(days=i) for i in range(first, last + 1)]


def window(first: date, last: date) -> tuple[str, str]:
    return "--vars", json.dumps({"extract_date_from": str(first), "extract_date_to": str(last)})


def tables(warehouse: Path, schema: str) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [schema],
            ).fetchall()
        ]
        return {
            t: con.execute(f"SELECT * FROM {schema}.{t} ORDER BY ALL").df() for t in sorted(names)
        }
    finally:
        con.close()


@dataclass
class Removed:
    """What a re-delivery took out of its day's extract, per source."""

    responses: list[str]
    ticket_falling_back: str  # its latest version was in the day; an earlier extract has another
    ticket_vanishing: str  # its only version was in the day
    device_days: list[tuple[str, date]]
    # A device-day of the day before, sent again in the day (a late correction): without it,
    # the earlier extract's version stands again.
    device_day_falling_back: tuple[str, date]
    employee: str  # left the directory: the day's snapshot was their latest; one before lists them


def ticket_extracts(landing: Path) -> dict[str, list[date]]:
    """The extract dates that hold a version of each ticket, in order."""
    extracts: dict[str, list[date]] = {}
    for path in sorted((landing / "itsm").glob("*/*.json")):
        day = date.fromisoformat(path.parent.name)
        for record in json.loads(path.read_text())["result"]:
            extracts.setdefault(record["number"], []).append(day)
    return extracts


def leave(landing: Path, snapshot_day: date, count: int) -> list[str]:
    """Take the first `count` employees out of a directory snapshot; returns their ids."""
    directory = next((landing / "directory" / str(snapshot_day)).glob("*.csv"))
    employees = pd.read_csv(directory, dtype=str, keep_default_na=False)
    employees.iloc[count:].to_csv(directory, index=False)
    return list(employees["employee_id"][:count])


def add_lone_ticket(landing: Path, day: date) -> str:
    """Add to a day's extract a ticket no other extract holds; returns its number."""
    path = landing / "itsm" / str(day) / "incident.json"
    records = json.loads(path.read_text())["result"]
    lone = {**records[0], "number": "INC9999999", "sys_id": "f" * 32}
    path.write_text(json.dumps({"result": [*records, lone]}))
    return lone["number"]


def add_late_device_day(landing: Path, day: date) -> tuple[str, date]:
    """Send again, in `day`'s device extract, the first device-day of the day before with
    another boot time (a late correction); returns its key."""
    path = next((landing / "device" / str(day)).glob("*.parquet"))
    before = next((landing / "device" / str(day - timedelta(days=1))).glob("*.parquet"))
    table = pq.read_table(path)
    late = pq.read_table(before).slice(0, 1).to_pandas()
    late.loc[0, "boot_duration_s"] = late.loc[0, "boot_duration_s"] + 50.0
    late_table = pa.Table.from_pandas(late, schema=table.schema, preserve_index=False)
    pq.write_table(pa.concat_tables([table, late_table]), path)
    return late.loc[0, "device_id"], late.loc[0, "snapshot_date"]


def redeliver_with_rows_removed(
    landing: Path, day: date, leavers: list[str], lone_ticket: str, late: tuple[str, date]
) -> Removed:
    """Write `day`'s extract again with rows removed and changed in every source."""
    survey = next((landing / "survey" / str(day)).glob("*.csv"))
    frame = pd.read_csv(survey, dtype=str, keep_default_na=False)
    responses = list(frame["response_id"][:2])
    frame = frame.iloc[2:].reset_index(drop=True)
    frame.loc[0, "happiness"] = "10" if frame.loc[0, "happiness"] != "10" else "0"
    frame.to_csv(survey, index=False)

    extracts = ticket_extracts(landing)
    falling_back = next(n for n, ds in extracts.items() if ds[-1] == day and len(ds) > 1)
    assert extracts[lone_ticket] == [day]
    changed = next(
        n for n, ds in extracts.items() if ds[-1] == day and n not in (falling_back, lone_ticket)
    )
    for path in (landing / "itsm" / str(day)).glob("*.json"):
        records = json.loads(path.read_text())["result"]
        kept = [r for r in records if r["number"] not in (falling_back, lone_ticket)]
        for record in kept:
            if record["number"] == changed:
                record["reassignment_count"] = str(int(record["reassignment_count"] or 0) + 2)
        path.write_text(json.dumps({"result": kept}))

    device = next((landing / "device" / str(day)).glob("*.parquet"))
    devices = pq.read_table(device).to_pandas()
    device_days = list(zip(devices["device_id"][:3], devices["snapshot_date"][:3], strict=True))
    devices = devices.iloc[3:]
    devices = devices[
        (devices["device_id"] != late[0]) | (devices["snapshot_date"] != late[1])
    ].reset_index(drop=True)
    devices.loc[0, "boot_duration_s"] = devices.loc[0, "boot_duration_s"] + 90.0
    pq.write_table(pa.Table.from_pandas(devices, preserve_index=False), device)

    # The first leaver's row goes, the second's changes: both rows were the leavers' latest.
    directory = next((landing / "directory" / str(day)).glob("*.csv"))
    employees = pd.read_csv(directory, dtype=str, keep_default_na=False)
    employee, moved = leavers
    employees = employees[employees["employee_id"] != employee].reset_index(drop=True)
    employees.loc[employees["employee_id"] == moved, "department"] = "Moved"
    employees.to_csv(directory, index=False)

    return Removed(responses, falling_back, lone_ticket, device_days, late, employee)


def test_incremental_runs_give_the_same_marts_as_a_full_refresh(tmp_path):
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)
    stage_reference_seeds(settings)
    target = tmp_path / "dbt_target"
    # Two employees leave after the snapshot of day 14: it stays their latest. And day 14
    # holds a ticket no other extract does.
    leavers = leave(settings.landing_dir, days(21, 21)[0], 2)
    lone_ticket = add_lone_ticket(settings.landing_dir, days(14, 14)[0])
    late_device_day = add_late_device_day(settings.landing_dir, days(14, 14)[0])

    load(settings, days(0, 13))
    dbt_build(settings, target)  # the first run builds everything there is
    for day in days(14, 18):  # then one daily run per extract
        load(settings, [day])
        dbt_build(settings, target, *window(day, day))
    # The late correction in day 14's extract replaced the version of day 13's.
    late_version = "SELECT extract_date FROM intermediate.int_device_days_scored " + (
        "WHERE device_id = ? AND snapshot_date = ?"
    )
    assert query(settings.warehouse_path, late_version, list(late_device_day)) == [
        (days(14, 14)[0],)
    ]
    load(settings, days(19, 27))  # and a backfill of several days in one run
    dbt_build(settings, target, *window(days(19, 19)[0], days(27, 27)[0]))

    # An old extract is delivered again with changes: a better answer, a ticket resolved later.
    # (the first day from the fourth on with answers: a small organisation has days without)
    redelivered = next(
        day for day in days(3, 13) if (settings.landing_dir / "survey" / str(day)).is_dir()
    )
    survey = next((settings.landing_dir / "survey" / str(redelivered)).glob("*.csv"))
    frame = pd.read_csv(survey, dtype=str, keep_default_na=False)
    frame.loc[0, "happiness"] = "10" if frame.loc[0, "happiness"] != "10" else "0"
    frame.to_csv(survey, index=False)
    load(settings, [redelivered])
    dbt_build(settings, target, *window(redelivered, redelivered))

    # A day already built is delivered again without some of its rows (and with others
    # changed): what only that delivery held must leave the incremental models too. The day
    # is a Monday, with a directory snapshot.
    redelivered = days(14, 14)[0]
    assert redelivered.weekday() == 0
    removed = redeliver_with_rows_removed(
        settings.landing_dir, redelivered, leavers, lone_ticket, late_device_day
    )
    load(settings, [redelivered])
    dbt_build(settings, target, *window(redelivered, redelivered))

    incremental_copy = tmp_path / "incremental.duckdb"
    shutil.copyfile(settings.warehouse_path, incremental_copy)
    # The full refresh sums the device weeks one week at a time (four chunks, not one): chunk
    # bounds must neither lose nor double a week.
    dbt_build(settings, target, "--full-refresh", "--vars", json.dumps({"week_chunk_weeks": 1}))

    # What the re-delivery removed is gone from staging and the stored device-days; where an
    # earlier extract holds another version, that version stands again.
    staged = incremental_copy
    assert not query(
        staged,
        "SELECT 1 FROM staging.stg_survey__responses WHERE response_id IN (?, ?)",
        removed.responses,
    )
    assert not query(
        staged,
        "SELECT 1 FROM staging.stg_itsm__tickets WHERE ticket_number = ?",
        [removed.ticket_vanishing],
    )
    [(ticket_extract,)] = query(
        staged,
        "SELECT extract_date FROM staging.stg_itsm__tickets WHERE ticket_number = ?",
        [removed.ticket_falling_back],
    )
    assert ticket_extract < redelivered
    for device_id, snapshot_date in removed.device_days:
        for table in ("staging.stg_device__snapshots", "intermediate.int_device_days_scored"):
            assert not query(
                staged,
                f"SELECT 1 FROM {table} WHERE device_id = ? AND snapshot_date = ?",
                [device_id, snapshot_date],
            ), table
    # Day 14 delivered again without the late correction: day 13's version stands again.
    assert query(staged, late_version, list(removed.device_day_falling_back)) == [
        (days(13, 13)[0],)
    ]
    [(employee_snapshot,)] = query(
        staged,
        "SELECT snapshot_date FROM staging.stg_directory__employees WHERE employee_key = ?",
        [hashlib.sha256(f"{settings.pseudonym_salt}|{removed.employee}".encode()).hexdigest()],
    )
    assert employee_snapshot == days(7, 7)[0]

    # Every model equals a full refresh: the published marts, and the incremental models
    # (staging, intermediate) they are built from.
    for schema, count in (("marts", 14), ("staging", 4), ("intermediate", 7)):
        incremental, full = (
            tables(incremental_copy, schema),
            tables(settings.warehouse_path, schema),
        )
        assert sorted(incremental) == sorted(full)
        assert len(full) == count, schema
        for table, frame in full.items():
            # Four weeks hold no in-scope week with four weeks of data before it to test.
            assert len(frame) > 0 or table == "experience_changes", table
            pd.testing.assert_frame_equal(
                incremental[table], frame, check_exact=False, rtol=1e-12, obj=table
            )
