"""The incremental scenario: one small organisation built day by day, with a backfill and old
extracts delivered again (changed, or with rows removed), then a full refresh. Every target runs
it (DuckDB in tests/integration, Spark in tests/spark): an incremental run must give what a full
refresh gives.

An `Engine` says how a target loads days, runs dbt and reads a model's rows; the scenario is the
same on every target."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.pseudonym_key import ensure_key, pseudonym
from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import PROJECT_SEEDS_DIR, Settings, stage_reference_seeds


@dataclass(frozen=True)
class Engine:
    """One dbt target as the scenario drives it."""

    load: Callable[[list[date]], None]  # the extracts of these days into the raw tables
    build: Callable[..., None]  # a dbt run over the loaded days, given dbt's arguments
    query: Callable[[str, list], list[tuple]]  # rows of a query over the built models
    tables: Callable[[str], dict[str, pd.DataFrame]]  # a schema's tables, rows in one order
    # Every run but the last, where the engine's runs cost (Spark: seconds a model): may build
    # the incremental models alone, as the marts are rebuilt whole by the last run anyway.
    build_step: Callable[..., None] | None = None
    # Where the stored device history can be queried (a Spark view has no files to read).
    device_history: tuple[str, ...] = (
        "staging.stg_device__snapshots",
        "intermediate.int_device_days_scored",
    )


# A high response rate: the re-delivered days must hold several answers each.
CONFIG = GeneratorConfig(employees=400, days=28, start=date(2026, 5, 4), seed=21, response_rate=0.6)


def days(first: int, last: int) -> list[date]:
    return [CONFIG.start + timedelta(days=i) for i in range(first, last + 1)]


def window(first: date, last: date) -> tuple[str, str]:
    return "--vars", json.dumps({"extract_date_from": str(first), "extract_date_to": str(last)})


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


def transfer(landing: Path, snapshot_day: date) -> str:
    """Move the user of a device of the first day to another department in a directory
    snapshot; returns their id. Every earlier week and month of theirs (their devices, their
    tickets) is then counted under the new department."""
    first_day = min((landing / "device").iterdir())
    devices = pq.read_table(next(first_day.glob("*.parquet"))).to_pandas()
    directory = next((landing / "directory" / str(snapshot_day)).glob("*.csv"))
    employees = pd.read_csv(directory, dtype=str, keep_default_na=False)
    listed = set(employees["employee_id"])
    user = next(str(u) for u in devices["employee_id"] if u in listed)
    employees.loc[employees["employee_id"] == user, "department"] = "Transferred"
    employees.to_csv(directory, index=False)
    return user


def relink_answer(landing: Path, from_day: date, to_day: date) -> tuple[str, str, str]:
    """Send again, in `to_day`'s survey extract, the first ticket answer of `from_day` pointing
    at another ticket (a correction of the link); returns the answer and the old and new
    ticket. The old ticket loses the answer, though nothing of `to_day` names it."""
    answers = pd.read_csv(
        next((landing / "survey" / str(from_day)).glob("*.csv")), dtype=str, keep_default_na=False
    )
    tickets = answers[(answers["survey_type"] == "ticket") & (answers["ticket_number"] != "")]
    answer, other = tickets.iloc[0].copy(), tickets.iloc[1]
    old_ticket, answer["ticket_number"] = answer["ticket_number"], other["ticket_number"]
    path = next((landing / "survey" / str(to_day)).glob("*.csv"))
    later = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([later, answer.to_frame().T]).to_csv(path, index=False)
    return answer["response_id"], old_ticket, other["ticket_number"]


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


def resolve_early(landing: Path, day: date) -> str:
    """Make the day's version of a ticket (one that earlier extracts hold and later ones do not)
    resolved an hour after it was opened, in a week no other row of the day's extract touches;
    returns its number. When the day is delivered again without it, the ticket falls back to an
    earlier version and leaves that week: only the rows as they stood before the run say so."""
    extracts = ticket_extracts(landing)
    path = landing / "itsm" / str(day) / "incident.json"
    records = json.loads(path.read_text())["result"]
    candidates = [
        r for r in records if extracts[r["number"]][-1] == day and len(extracts[r["number"]]) > 1
    ]
    record = min(candidates, key=lambda r: r["opened_at"])
    opened = datetime.fromisoformat(record["opened_at"])
    record["state"] = "6"
    record["resolved_at"] = str(opened + timedelta(hours=1))
    path.write_text(json.dumps({"result": records}))
    return record["number"]


def redeliver_with_rows_removed(
    landing: Path,
    day: date,
    leavers: list[str],
    lone_ticket: str,
    late: tuple[str, date],
    falling_back: str,
) -> Removed:
    """Write `day`'s extract again with rows removed and changed in every source."""
    survey = next((landing / "survey" / str(day)).glob("*.csv"))
    frame = pd.read_csv(survey, dtype=str, keep_default_na=False)
    responses = list(frame["response_id"][:2])
    frame = frame.iloc[2:].reset_index(drop=True)
    frame.loc[0, "happiness"] = "10" if frame.loc[0, "happiness"] != "10" else "0"
    frame.to_csv(survey, index=False)

    extracts = ticket_extracts(landing)
    assert extracts[falling_back][-1] == day and len(extracts[falling_back]) > 1
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


@dataclass
class Built:
    """What the incremental runs left, to compare with the full refresh."""

    removed: Removed
    redelivered: date
    tables: dict[str, dict[str, pd.DataFrame]]  # by schema, then table


LATE_VERSION = (
    "SELECT extract_date FROM intermediate.int_device_days_scored "
    "WHERE device_id = ? AND snapshot_date = ?"
)


def build_incrementally(
    settings: Settings,
    engine: Engine,
    daily_runs: int = 5,
    schemas: tuple[str, ...] = (),
    redeliver_changed: bool = True,
) -> Built:
    """Generate the organisation and build it run by run: the first run builds days 0-13,
    then `daily_runs` daily runs from day 14, a backfill to day 27 in one run, an old day
    delivered again with a changed answer (`redeliver_changed`), and day 14 delivered again
    with rows removed and changed in every source. Returns the rows of `schemas` afterwards."""
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)
    stage_reference_seeds(settings)
    # Two employees leave after the snapshot of day 14: it stays their latest. And day 14
    # holds a ticket no other extract does.
    leavers = leave(settings.landing_dir, days(21, 21)[0], 2)
    # And one employee changes department in that snapshot (delivered by the backfill): weeks
    # and months long before the backfill's days change with it.
    transfer(settings.landing_dir, days(21, 21)[0])
    lone_ticket = add_lone_ticket(settings.landing_dir, days(14, 14)[0])
    late_device_day = add_late_device_day(settings.landing_dir, days(14, 14)[0])
    resolved_early = resolve_early(settings.landing_dir, days(14, 14)[0])
    # The last daily run's day corrects the ticket an answer of the first days points at.
    last_daily = 14 + daily_runs - 1
    relinked = relink_answer(settings.landing_dir, days(1, 1)[0], days(last_daily, last_daily)[0])

    step = engine.build_step or engine.build
    engine.load(days(0, 13))
    step()  # the first run builds everything there is (of what the steps build)
    for day in days(14, last_daily):  # then one daily run per extract
        engine.load([day])
        step(*window(day, day))
    # The last daily run counted the answer's old ticket as touched (its response rate and
    # latest answer change), though nothing delivered that day names it.
    _, old_ticket, new_ticket = relinked
    assert engine.query(
        "SELECT ticket_number FROM run_state.tickets WHERE ticket_number IN (?, ?) ORDER BY 1",
        [old_ticket, new_ticket],
    ) == sorted([(old_ticket,), (new_ticket,)])
    # The late correction in day 14's extract replaced the version of day 13's.
    assert engine.query(LATE_VERSION, list(late_device_day)) == [(days(14, 14)[0],)]
    engine.load(days(last_daily + 1, 27))  # and a backfill of several days in one run
    step(*window(days(last_daily + 1, last_daily + 1)[0], days(27, 27)[0]))
    # The backfill's directory snapshot moved an employee: the first week, which none of the
    # backfill's days touch, counts them under their new department at once (later runs
    # rebuild that week for other reasons, which would hide a miss from the final comparison).
    assert engine.query(
        "SELECT count(*) FROM marts.device_experience_weekly "
        "WHERE department = 'Transferred' AND week_start = ?",
        [CONFIG.start],
    ) == [(1,)]

    if redeliver_changed:
        # An old extract is delivered again with changes: a better answer, a ticket resolved later.
        # (the first day of the second week with answers: a small organisation has days
        # without; the first week stays untouched after the backfill, so a transfer there shows
        # only if the department change itself touched it)
        redelivered = next(
            day for day in days(7, 13) if (settings.landing_dir / "survey" / str(day)).is_dir()
        )
        survey = next((settings.landing_dir / "survey" / str(redelivered)).glob("*.csv"))
        frame = pd.read_csv(survey, dtype=str, keep_default_na=False)
        frame.loc[0, "happiness"] = "10" if frame.loc[0, "happiness"] != "10" else "0"
        frame.to_csv(survey, index=False)
        engine.load([redelivered])
        step(*window(redelivered, redelivered))

    # A day already built is delivered again without some of its rows (and with others
    # changed): what only that delivery held must leave the incremental models too. The day
    # is a Monday, with a directory snapshot.
    redelivered = days(14, 14)[0]
    assert redelivered.weekday() == 0
    removed = redeliver_with_rows_removed(
        settings.landing_dir, redelivered, leavers, lone_ticket, late_device_day, resolved_early
    )
    engine.load([redelivered])
    engine.build(*window(redelivered, redelivered))
    return Built(removed, redelivered, {schema: engine.tables(schema) for schema in schemas})


def assert_the_removed_rows_are_gone(settings: Settings, engine: Engine, built: Built) -> None:
    """What the re-delivery removed is gone from staging and the stored device-days; where an
    earlier extract holds another version, that version stands again."""
    removed = built.removed
    assert not engine.query(
        "SELECT 1 FROM staging.stg_survey__responses WHERE response_id IN (?, ?)",
        removed.responses,
    )
    assert not engine.query(
        "SELECT 1 FROM staging.stg_itsm__tickets WHERE ticket_number = ?",
        [removed.ticket_vanishing],
    )
    [(ticket_extract,)] = engine.query(
        "SELECT extract_date FROM staging.stg_itsm__tickets WHERE ticket_number = ?",
        [removed.ticket_falling_back],
    )
    assert ticket_extract < built.redelivered
    for device_id, snapshot_date in removed.device_days:
        for table in engine.device_history:
            assert not engine.query(
                f"SELECT 1 FROM {table} WHERE device_id = ? AND snapshot_date = ?",
                [device_id, snapshot_date],
            ), table
    # Day 14 delivered again without the late correction: day 13's version stands again.
    assert engine.query(LATE_VERSION, list(removed.device_day_falling_back)) == [(days(13, 13)[0],)]
    [(employee_snapshot,)] = engine.query(
        "SELECT snapshot_date FROM staging.stg_directory__employees WHERE employee_key = ?",
        [pseudonym(ensure_key(settings.data_dir), removed.employee)],
    )
    assert employee_snapshot == days(7, 7)[0]


def assert_equal_to_a_full_refresh(
    engine: Engine, built: Built, counts: dict[str, int], rtol: float = 1e-12
) -> None:
    """Every table of the incremental build equals the full refresh's (built by the caller)."""
    for schema, count in counts.items():
        incremental, full = built.tables[schema], engine.tables(schema)
        assert sorted(incremental) == sorted(full)
        assert len(full) == count, schema
        for table, frame in full.items():
            # Four weeks hold no in-scope week with four weeks of data before it to test.
            assert len(frame) > 0 or table == "experience_changes", table
            pd.testing.assert_frame_equal(
                incremental[table], frame, check_exact=False, rtol=rtol, obj=table
            )


def period_marts(target: Path) -> list[str]:
    """The models a run rebuilds by period (meta `touched_by`: macros/touched_periods.sql)."""
    manifest = json.loads((target / "manifest.json").read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("meta", {}).get("touched_by")
    )


def assert_the_last_run_rebuilt_touched_periods_only(target: Path) -> None:
    """The last (incremental) build computed every period mart from its touched periods, not
    whole: the SQL dbt ran for it reads the periods the run recorded."""
    marts = period_marts(target)
    assert len(marts) == 10, marts
    for mart in marts:
        [executed] = (target / "run").rglob(f"{mart}.sql")
        assert "as touched_periods" in executed.read_text(), mart
