"""Each kind of bad data makes its gate fail with evidence; good data passes."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.contracts import raw_table_ddl
from ingestion.loader import ensure_raw_tables
from ingestion.sources import SOURCES
from orchestration.checks import Gate, run_gates
from quality.config import load_gate_config
from quality.gates import (
    GateContext,
    GateOutcome,
    mart_freshness,
    mart_reconciliation,
    mart_schema,
    mart_volume,
    raw_freshness,
    raw_schema,
    raw_volume,
    unmapped_share,
    weekly_happiness_distribution,
)
from quality.gates.history import weekday_volumes
from quality.specs import MARTS, MartSpec

RUN_DATE = date(2026, 3, 31)
LOG = logging.getLogger(__name__)
WEEKLY = MARTS["service_experience_weekly"]


def make_warehouse(path: Path, weeks: int = 14, week_score: float = 70.0) -> None:
    """A warehouse with the staging totals and a consistent weekly mart: 2 services x weeks,
    and every source's extracts delivered daily up to the run's date."""
    ensure_raw_tables(path)
    deliver(path, {source: RUN_DATE for source in SOURCES})
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA staging; CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE intermediate.int_tickets_mapped_to_services AS "
        f"SELECT TIMESTAMP '2026-01-01' AS resolved_at, false AS is_canceled "
        f"FROM range({weeks * 2 * 10})"
    )
    con.execute(
        "CREATE TABLE staging.stg_survey__responses AS "
        f"SELECT 'ticket' AS survey_type FROM range({weeks * 2 * 6})"
    )
    con.execute(f"""
        CREATE TABLE marts.service_experience_weekly AS
        SELECT service_id, DATE '2026-03-30' - INTERVAL (7 * w) DAY AS week_start,
            6::BIGINT AS responses, {week_score}::DOUBLE AS happiness_score,
            30.0 AS avg_lost_time_minutes, 3.0 AS total_lost_hours, 10::BIGINT AS tickets_resolved,
            0.6 AS response_rate, 12.0 AS mttr_hours, 0.9 AS sla_attainment,
            0.02 AS reopen_rate, 0::BIGINT AS tickets_canceled, false AS low_sample,
            {week_score} - 20.0 AS happiness_ci_low,
            least({week_score} + 20.0, 100.0) AS happiness_ci_high,
            20.0 AS lost_time_ci_low, 40.0 AS lost_time_ci_high
        FROM range({weeks}) t(w), (VALUES ('SVC01'), ('SVC02')) s(service_id)
    """)
    con.close()


def deliver(path: Path, newest: dict[str, date | None], days: int = 20) -> None:
    """The extract log of `days` daily extracts of each source up to its newest (None: never
    delivered), replacing what was there."""
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM raw.extract_loads")
    for source, last in newest.items():
        if last is not None:
            con.execute(
                "INSERT INTO raw.extract_loads SELECT $source, $last - INTERVAL (d) DAY, 1, 10, "
                "10, 0, now() FROM range($days) t(d)",
                {"source": source, "last": last, "days": days},
            )
    con.close()


@pytest.fixture
def ctx(tmp_path: Path) -> GateContext:
    make_warehouse(tmp_path / "wh.duckdb")
    return GateContext(
        database_path=tmp_path / "wh.duckdb",
        quality_dir=tmp_path / "quality",
        run_date=RUN_DATE,
        partitions=(RUN_DATE,),
        config=load_gate_config(),
    )


def execute(ctx: GateContext, sql: str) -> None:
    ctx.db.close()  # a gate's read-only connection would keep this writer out
    con = duckdb.connect(str(ctx.database_path))
    con.execute(sql)
    con.close()


def test_a_consistent_mart_passes_every_gate(ctx):
    for gate in (mart_schema, mart_reconciliation, mart_freshness):
        outcome = gate(ctx, WEEKLY)
        assert outcome.passed, (outcome.gate, [f.describe() for f in outcome.failures])
        assert outcome.docs_pages and outcome.docs_pages[0].is_file()
    assert weekly_happiness_distribution(ctx, WEEKLY).passed


def test_an_out_of_range_score_fails_the_schema_gate_with_the_value(ctx):
    execute(
        ctx,
        "UPDATE marts.service_experience_weekly SET happiness_score = 150 "
        "WHERE service_id = 'SVC01' AND week_start = DATE '2026-03-30'",
    )
    outcome = mart_schema(ctx, WEEKLY)
    assert not outcome.passed
    [failure] = outcome.failures
    assert (failure.column, failure.unexpected_count, failure.sample) == (
        "happiness_score",
        1,
        [150.0],
    )


def test_a_duplicate_key_fails_the_schema_gate(ctx):
    execute(
        ctx,
        "INSERT INTO marts.service_experience_weekly "
        "SELECT * FROM marts.service_experience_weekly LIMIT 1",
    )
    outcome = mart_schema(ctx, WEEKLY)
    [failure] = outcome.failures
    assert (failure.expectation, failure.unexpected_count) == (
        "unique (service_id, week_start)",
        1,
    )
    assert len(failure.sample) == 1 and failure.sample[0].startswith("SVC0")


def test_a_mart_missing_a_gated_column_fails_the_schema_gate(ctx):
    execute(ctx, "ALTER TABLE marts.service_experience_weekly DROP COLUMN sla_attainment")
    outcome = mart_schema(ctx, WEEKLY)
    assert not outcome.passed
    # The other rules are still counted: the missing column is the only failure.
    assert [(f.expectation, f.column) for f in outcome.failures] == [
        ("column exists", "sla_attainment")
    ]


def test_a_key_repeated_with_a_null_part_is_a_duplicate_and_its_null_fails_not_null(ctx):
    execute(
        ctx,
        "INSERT INTO marts.service_experience_weekly "
        "SELECT * REPLACE (NULL AS week_start) FROM marts.service_experience_weekly LIMIT 2",
    )
    execute(
        ctx,
        "UPDATE marts.service_experience_weekly SET service_id = 'SVC01' WHERE week_start IS NULL",
    )
    outcome = mart_schema(ctx, WEEKLY)
    assert sorted((f.expectation, f.column, f.unexpected_count) for f in outcome.failures) == [
        ("not null", "week_start", 2),
        ("unique (service_id, week_start)", "service_id, week_start", 1),
    ]


def test_nan_counts_as_missing_in_a_float_column_as_it_did_in_pandas(ctx):
    execute(
        ctx,
        "CREATE TABLE marts.t AS SELECT * FROM (VALUES (1, 'NaN'::DOUBLE, false), "
        "(2, 0.5, false), (3, 'NaN'::DOUBLE, true)) v(k, x, low_sample)",
    )
    spec = MartSpec("t", ("k",), ("k", "x"), ranges={"x": (0.0, 1.0)}, low_sample_nulls=("x",))
    outcome = mart_schema(ctx, spec)
    # Not-null catches both NaNs; the range and the low-sample rule leave them to it.
    assert [(f.expectation, f.column, f.unexpected_count) for f in outcome.failures] == [
        ("not null", "x", 2)
    ]


def test_a_mart_whose_sources_stopped_delivering_is_stale(ctx):
    stale = replace(ctx, run_date=RUN_DATE + timedelta(days=30))
    outcome = mart_freshness(stale, WEEKLY)
    assert not outcome.passed
    assert outcome.notes["built_from"] == {"itsm": "2026-03-31", "survey": "2026-03-31"}
    # 30 days behind the run's partition, 28 more than the 2 allowed, for both sources.
    assert outcome.failures[0].sample == [28, 28]
    assert "itsm is late: its newest extract is 2026-03-31, 30 days" in outcome.summary


def test_a_volume_collapse_fails_against_the_previous_run(ctx):
    assert mart_volume(ctx, WEEKLY).skipped  # the first run only records
    execute(ctx, "DELETE FROM marts.service_experience_weekly WHERE week_start < DATE '2026-03-20'")
    next_day = replace(ctx, run_date=RUN_DATE + timedelta(days=1))
    outcome = mart_volume(next_day, WEEKLY)
    assert not outcome.passed
    assert (outcome.notes["rows"], outcome.notes["previous_rows"]) == (4, 28)


def test_a_mart_of_a_few_rows_is_not_judged_on_its_volume(ctx):
    """Found by the soak: a re-delivered day took the week's only hotspot away (1 row to 0) and
    the blocking volume gate stopped publication."""
    execute(
        ctx,
        "DELETE FROM marts.service_experience_weekly "
        "WHERE rowid <> (SELECT min(rowid) FROM marts.service_experience_weekly)",
    )
    assert mart_volume(ctx, WEEKLY).skipped  # the first run records its 1 row
    execute(ctx, "DELETE FROM marts.service_experience_weekly")
    next_day = replace(ctx, run_date=RUN_DATE + timedelta(days=1))
    # Without the rule the day fails: 0 rows against 1 (a failed run records nothing).
    strict = replace(next_day, config=replace(ctx.config, mart_volume_min_previous_rows=0))
    assert not mart_volume(strict, WEEKLY).passed

    outcome = mart_volume(next_day, WEEKLY)

    assert outcome.passed and "held 1 rows, under 20" in outcome.skipped


def test_mart_totals_that_do_not_reconcile_with_staging_fail(ctx):
    execute(
        ctx,
        "DELETE FROM intermediate.int_tickets_mapped_to_services "
        "WHERE rowid IN (SELECT rowid FROM intermediate.int_tickets_mapped_to_services LIMIT 3)",
    )
    outcome = mart_reconciliation(ctx, WEEKLY)
    assert not outcome.passed
    assert [f.column for f in outcome.failures] == ["tickets_resolved"]
    assert outcome.notes["staging_totals"]["resolved_tickets"] == 277


def test_a_week_far_outside_its_history_fails_the_distribution_guard(ctx):
    execute(
        ctx,
        "UPDATE marts.service_experience_weekly SET happiness_score = 70 + "
        "(extract('week' FROM week_start) % 3) WHERE week_start < DATE '2026-03-23'",
    )
    execute(
        ctx,
        "UPDATE marts.service_experience_weekly SET happiness_score = 20 "
        "WHERE week_start = DATE '2026-03-23'",
    )
    outcome = weekly_happiness_distribution(ctx, WEEKLY)
    assert not outcome.passed
    assert outcome.notes["week"] == "2026-03-23"  # the latest week complete by 2026-03-31


def test_too_little_history_is_said_not_passed_silently(ctx):
    execute(ctx, "DELETE FROM marts.service_experience_weekly WHERE week_start < DATE '2026-03-01'")
    outcome = weekly_happiness_distribution(ctx, WEEKLY)
    assert outcome.passed and "complete weeks" in outcome.skipped


def make_raw(ctx: GateContext, daily_rows: dict[date, int], lag_days: int = 0) -> None:
    ctx.db.close()
    con = duckdb.connect(str(ctx.database_path))
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("DROP TABLE IF EXISTS raw.device_snapshots")
    con.execute(raw_table_ddl(SOURCES["device"].contract, "raw"))
    for day, rows in daily_rows.items():
        con.execute(f"""INSERT INTO raw.device_snapshots (device_id, employee_id,
            snapshot_date, device_type, model, os_version, boot_duration_s, logon_duration_s,
            app_crashes, app_freezes, system_crashes, cpu_saturation_pct, memory_saturation_pct,
            disk_free_pct, battery_health_pct, network_latency_ms, _extract_date, _source_file,
            _source_line, _loaded_at) SELECT 'D' || i, 'E' || i,
            DATE '{day}' - INTERVAL {lag_days} DAY, 'laptop', 'X1', 'w11', 30, 20, 0, 0, 0,
            5, 5, 50, 90, 10, DATE '{day}', 'f', i, now() FROM range({rows}) t(i)""")
    con.close()


def test_raw_extracts_are_validated_against_their_contract_in_the_database(ctx):
    days = [RUN_DATE - timedelta(days=i) for i in range(3)]
    make_raw(ctx, {d: 400 for d in days})
    run = replace(ctx, partitions=tuple(sorted(days)))
    outcome = raw_schema(run, "device")
    # Every contract column's presence and every row rule, counted for each of the 3 extracts.
    assert outcome.passed and outcome.notes["rules"] > 20
    run.db.close()
    execute(ctx, "UPDATE raw.device_snapshots SET battery_health_pct = 150 WHERE device_id = 'D7'")
    execute(
        ctx,
        f"UPDATE raw.device_snapshots SET device_type = 'tablet' WHERE device_id = 'D8' "
        f"AND _extract_date = DATE '{RUN_DATE}'",
    )
    execute(ctx, "UPDATE raw.device_snapshots SET device_id = 'D1' WHERE device_id = 'D9'")
    failed = raw_schema(run, "device")
    # D7 is out of range on all three days, D8 has an unknown type once, D9 now repeats D1's key.
    assert not failed.passed
    assert sorted((f.column, f.unexpected_count, f.sample) for f in failed.failures) == [
        ("battery_health_pct", 3, [150.0]),
        # The key repeated within each extract (a key may repeat across extracts).
        ("device_id, snapshot_date", 3, [f"D1, {d}" for d in sorted(days)]),
        ("device_type", 1, ["tablet"]),
    ]
    assert all(f.error is None for f in failed.failures)


def test_versions_of_a_ticket_in_one_minute_pass_and_an_identical_copy_fails(ctx):
    ctx.db.close()
    con = duckdb.connect(str(ctx.database_path))
    con.execute("DROP TABLE raw.itsm_tickets")
    con.execute(raw_table_ddl(SOURCES["itsm"].contract, "raw"))
    # Two updates of INC1 within one minute (an event-log export): versions, as the loader
    # keeps them (the contract's key is sys_id, sys_updated_on).
    con.execute(f"""INSERT INTO raw.itsm_tickets SELECT 'T1', 'INC1', 'incident',
        TIMESTAMP '{RUN_DATE}', NULL, NULL, TIMESTAMP '{RUN_DATE} 10:00', state, '3', 'portal',
        'Email', 'SD', 'E1', 'HQ', 'software', NULL, NULL, 0, 0, true, mod_count,
        DATE '{RUN_DATE}', 'f', mod_count, now()
        FROM (VALUES ('2', 1), ('6', 2)) v(state, mod_count)""")
    con.close()
    assert raw_schema(ctx, "itsm").passed
    execute(ctx, "INSERT INTO raw.itsm_tickets SELECT * FROM raw.itsm_tickets WHERE state = '6'")
    failed = raw_schema(ctx, "itsm")
    [failure] = failed.failures
    assert failure.expectation.startswith("unique (sys_id, number, ") and (
        failure.unexpected_count == 1
    )


def test_a_raw_table_missing_a_contract_column_fails_its_gate(ctx):
    make_raw(ctx, {RUN_DATE: 10})
    execute(ctx, "ALTER TABLE raw.device_snapshots DROP COLUMN os_version")
    failed = raw_schema(ctx, "device")
    assert not failed.passed
    assert [f.column for f in failed.failures] == ["os_version"]


def test_a_raw_extract_holding_only_old_records_fails_freshness(ctx):
    make_raw(ctx, {RUN_DATE: 10}, lag_days=9)
    outcome = raw_freshness(ctx, "device")
    assert not outcome.passed and outcome.failures[0].sample == [9]


def test_a_raw_extract_without_any_event_date_fails_freshness(ctx):
    make_raw(ctx, {RUN_DATE: 10})
    execute(ctx, "UPDATE raw.device_snapshots SET snapshot_date = NULL")
    outcome = raw_freshness(ctx, "device")
    assert not outcome.passed
    assert [f.expectation for f in outcome.failures] == ["expect_column_values_to_not_be_null"]


def test_a_collapsed_raw_extract_fails_against_the_median_of_its_weekday(ctx):
    days = [RUN_DATE - timedelta(days=i) for i in range(29)]  # four earlier Tuesdays
    make_raw(ctx, {d: (1000 if d < RUN_DATE else 100) for d in days})
    run = replace(ctx, partitions=tuple(sorted(days)))
    outcome = raw_volume(run, "device")
    assert not outcome.passed
    assert outcome.failures[0].sample == [100]  # 200 expected at least, 100 came (10 %)
    assert outcome.summary == "2026-03-31: 100 rows, under 200 (20% of its weekday's median 1000)"


def business_days(last: date, weeks: int, weekday: int, weekend: int) -> dict[date, int]:
    """Rows per extract: `weekday` on Monday to Friday, `weekend` on Saturday and Sunday."""
    days = [last - timedelta(days=i) for i in range(7 * weeks)]
    return {d: weekend if d.weekday() >= 5 else weekday for d in days}


def test_a_quiet_sunday_is_judged_against_sundays_not_against_the_week(ctx):
    # Answers arrive on business days: a Sunday holds a tenth of a weekday. Against the median
    # of the previous 28 days (20 weekdays, 8 weekend days) it fell under the floor every week.
    sunday = RUN_DATE + timedelta(days=5)
    counts = business_days(sunday, weeks=5, weekday=1000, weekend=100)
    make_raw(ctx, counts)
    run = replace(ctx, run_date=sunday, partitions=tuple(sorted(counts)))
    outcome = raw_volume(run, "device")
    assert outcome.passed and outcome.notes["judged"] == 14  # 5 weeks, the first 3 too early
    # ... and a Sunday that collapses to a tenth of its usual still fails.
    collapsed = {**counts, sunday: 10}
    run.db.close()
    make_raw(ctx, collapsed)
    shutil.rmtree(ctx.history_dir)  # the same history as before, not the one just recorded
    outcome = raw_volume(replace(run), "device")
    assert not outcome.passed and outcome.summary.startswith(f"{sunday}: 10 rows, under 20 ")


def test_a_weekday_with_few_earlier_extracts_or_a_small_reference_is_not_judged():
    config = load_gate_config()
    # Three Mondays of 40 rows (under the 50-row minimum), a first Tuesday with no history.
    mondays = {date(2026, 3, 2) + timedelta(weeks=i): 40 for i in range(3)}
    verdicts = weekday_volumes(mondays, {date(2026, 3, 23): 0, date(2026, 3, 24): 0}, config)
    assert verdicts.judged == []
    assert verdicts.too_small == [date(2026, 3, 23)]
    assert verdicts.too_early == [date(2026, 3, 24)]
    # The reference is the median of the previous four of the weekday, not of all five.
    history = {
        date(2026, 3, 2) + timedelta(weeks=i): n for i, n in enumerate([1, 90, 100, 110, 120])
    }
    [(day, rows, reference, floor)] = weekday_volumes(
        history, {date(2026, 4, 6): 40}, config
    ).judged
    assert (day, rows, reference, floor) == (date(2026, 4, 6), 40, 105.0, 21)


def test_a_late_source_fails_its_freshness_gate_and_those_of_the_marts_built_from_it(ctx):
    ctx.db.close()
    deliver(
        ctx.database_path,
        {
            "survey": RUN_DATE,
            "itsm": RUN_DATE,
            "device": RUN_DATE - timedelta(days=4),
            "directory": RUN_DATE - timedelta(days=6),
        },
    )
    raw = raw_freshness(ctx, "device")
    assert not raw.passed
    assert raw.summary == (
        "device is late: its newest extract is 2026-03-27, 4 days before the run's date "
        "2026-03-31 (allowed: 2)"
    )
    assert not mart_freshness(ctx, MARTS["device_experience_weekly"]).passed
    # The marts not built from devices are as fresh as their own sources; the weekly directory
    # snapshot, six days old, is not late.
    assert mart_freshness(ctx, WEEKLY).passed
    assert raw_freshness(ctx, "directory").passed
    # Two days behind is within the allowance (a quiet weekend of a pulled source).
    ctx.db.close()
    deliver(ctx.database_path, {"device": RUN_DATE - timedelta(days=2)})
    assert raw_freshness(ctx, "device").passed


def test_a_declared_source_that_never_delivered_fails_saying_what_to_change(ctx):
    ctx.db.close()
    deliver(ctx.database_path, {"survey": RUN_DATE, "itsm": RUN_DATE, "device": None})
    outcome = raw_freshness(ctx, "device")
    assert not outcome.passed
    assert outcome.summary == (
        "device: declared but none of its extracts has been loaded: deliver them to "
        "landing/device/<YYYY-MM-DD>/ and run those dates, or leave device out of "
        "XMO_SOURCES / sources.yml if the organisation has no such data"
    )
    assert not mart_freshness(ctx, MARTS["device_experience_weekly"]).passed


def _column_type(column: str) -> str:
    if column == "low_sample":
        return "BOOLEAN"
    if column in ("department", "model", "topic"):
        return "VARCHAR"
    return "DATE" if column.endswith("_start") else "DOUBLE"


def empty_mart(ctx: GateContext, spec: MartSpec) -> None:
    """The mart with its spec's columns and no rows, as dbt publishes one without its source."""
    columns = ", ".join(f"{c} {_column_type(c)}" for c in spec.columns())
    execute(ctx, f"CREATE OR REPLACE TABLE marts.{spec.table} ({columns})")


def test_an_empty_mart_of_a_fresh_source_passes_its_gates(ctx):
    # No proactive answer at all: the mart has no rows, and nothing in it is stale.
    proactive = MARTS["proactive_experience_monthly"]
    empty_mart(ctx, proactive)
    execute(ctx, "CREATE TABLE staging.stg_survey__responses_p AS SELECT 1")
    for gate in (mart_schema, mart_freshness, mart_reconciliation, mart_volume, mart_volume):
        outcome = gate(replace(ctx, run_date=RUN_DATE), proactive)
        assert outcome.passed, (outcome.gate, [f.describe() for f in outcome.failures])


def test_an_undeclared_source_fails_no_gate_and_each_gate_says_why(ctx):
    tickets_and_surveys = replace(ctx, sources=("survey", "itsm"))
    ctx.db.close()
    deliver(ctx.database_path, {"survey": RUN_DATE, "itsm": RUN_DATE})
    device_mart = MARTS["device_experience_weekly"]
    empty_mart(ctx, device_mart)
    execute(ctx, "CREATE TABLE intermediate.int_device_days_scored (device_id VARCHAR)")
    for outcome in (
        raw_schema(tickets_and_surveys, "device"),
        raw_volume(tickets_and_surveys, "device"),
        raw_freshness(tickets_and_surveys, "device"),
        mart_freshness(tickets_and_surveys, device_mart),
        mart_volume(tickets_and_surveys, device_mart),
    ):
        assert outcome.passed and outcome.skipped.startswith(
            "device: not configured (XMO_SOURCES / sources.yml) — "
        ), (outcome.gate, outcome.skipped)
    # The empty mart's columns are still checked, and the verdict says why it is empty.
    for gate in (mart_schema, mart_reconciliation):
        outcome = gate(tickets_and_surveys, device_mart)
        assert outcome.passed and not outcome.skipped and outcome.evaluated
        assert outcome.summary.startswith("device: not configured") and outcome.summary.endswith(
            "the mart is published empty, with its columns"
        )
    # A mart that only uses the directory is judged on what is declared; without surveys there
    # is no happiness to watch.
    assert mart_freshness(tickets_and_surveys, WEEKLY).passed
    tickets_only = replace(ctx, sources=("itsm",))
    assert weekly_happiness_distribution(tickets_only, WEEKLY).skipped.startswith(
        "survey: not configured"
    )


def test_a_gate_that_raises_is_a_failed_check_and_one_connection_serves_the_step(ctx, monkeypatch):
    opened: list[object] = []
    connect = duckdb.connect

    def counting_connect(*args, **kwargs):
        con = connect(*args, **kwargs)
        opened.append(con)
        return con

    monkeypatch.setattr(duckdb, "connect", counting_connect)

    def broken(ctx: GateContext) -> GateOutcome:
        ctx.db.scalar("SELECT 1")
        raise RuntimeError("validation crashed")

    def counted(ctx: GateContext) -> GateOutcome:
        rows = ctx.db.scalar("SELECT count(*) FROM marts.service_experience_weekly")
        return GateOutcome("x_counted", skipped=f"{rows} rows seen")

    x, y = dg.AssetKey(["marts", "x"]), dg.AssetKey(["marts", "y"])
    gates = [
        Gate(x, "x_never_passes_by_accident", "schema", broken, "a gate that raises"),
        Gate(x, "x_counted", "volume", counted, "a gate after it"),
        Gate(y, "y_counted", "freshness", counted, "and one on another table"),
    ]
    results = list(run_gates(gates, lambda: ctx, LOG))

    assert [(r.asset_key, r.check_name) for r in results] == [(g.asset, g.name) for g in gates]
    assert results[0].passed is False
    assert results[0].severity == dg.AssetCheckSeverity.ERROR
    assert "validation crashed" in results[0].metadata["error"].value
    assert [r.passed for r in results[1:]] == [True, True]
    assert results[1].metadata["skipped"].value == "28 rows seen"
    assert len(opened) == 1  # three gates on two tables, one connection
    with pytest.raises(duckdb.ConnectionException):  # and it is closed when the step ends
        opened[0].execute("SELECT 1")


def test_gates_whose_context_cannot_be_made_all_fail(ctx):
    def no_context() -> GateContext:
        raise ValueError("gates.yml: severity.schema must be error or warn")

    gates = [
        Gate(
            dg.AssetKey(["raw", "x"]),
            name,
            "schema",
            lambda c, name=name: GateOutcome(name, skipped="never"),
            "",
        )
        for name in ("x_a", "x_b")
    ]
    results = list(run_gates(gates, no_context, LOG))
    assert [(r.check_name, r.passed) for r in results] == [("x_a", False), ("x_b", False)]
    assert all("severity.schema" in r.metadata["error"].value for r in results)


def test_the_coverage_check_warns_when_the_newest_weeks_unmapped_share_is_over_its_limit(ctx):
    fct = MARTS["fct_ticket_experience"]
    execute(
        ctx, "CREATE TABLE marts.fct_ticket_experience (service_id VARCHAR, resolved_at TIMESTAMP)"
    )
    assert unmapped_share(ctx, fct).skipped == "no resolved ticket yet"
    # The newest week (of 30 March): 3 of 20 tickets unmapped; the week before: all of them.
    execute(
        ctx,
        "INSERT INTO marts.fct_ticket_experience SELECT "
        "CASE WHEN i < 3 OR i >= 20 THEN 'unmapped' ELSE 'SVC01' END AS service_id, "
        "CASE WHEN i < 20 THEN TIMESTAMP '2026-03-31 10:00' ELSE TIMESTAMP '2026-03-24 10:00' "
        "END AS resolved_at FROM range(30) t(i)",
    )
    outcome = unmapped_share(ctx, fct)
    assert not outcome.passed
    assert outcome.notes["week"] == "2026-03-30" and outcome.notes["unmapped"] == 3
    assert outcome.summary == (
        "15.0% of the 20 tickets resolved in the week of 2026-03-30 map to no service, over "
        "10%: add mapping rules (xmo services suggest drafts them; docs/sources.md)"
    )
    ctx.db.close()
    execute(ctx, "UPDATE marts.fct_ticket_experience SET service_id = 'SVC01' WHERE rowid = 0")
    assert unmapped_share(ctx, fct).passed  # 2 of 20: 10 %, at the limit


def test_the_evidence_of_a_broken_rule_never_shows_an_employee_id(ctx):
    # Duplicate employee ids in a directory snapshot: the gate fails, naming the rule and how
    # many, and its sample (Dagster UI, Data Docs) withholds the ids themselves.
    ctx.db.close()
    con = duckdb.connect(str(ctx.database_path))
    con.execute(
        "INSERT INTO raw.directory_employees BY NAME SELECT 'E000777' AS employee_id, "
        "'Finance' AS department, 'FI' AS country, 'Helsinki' AS location, 'Analyst' AS job_role, "
        f"false AS vip, DATE '{RUN_DATE}' AS _extract_date, 'sys_user.csv' AS _source_file, "
        "i AS _source_line, now() AS _loaded_at FROM range(2) t(i)"
    )
    con.close()
    failed = raw_schema(ctx, "directory")
    [failure] = failed.failures
    assert (failure.column, failure.unexpected_count) == ("employee_id", 1)
    assert failure.sample == ["(personal data, withheld)"]
    pages = "".join(page.read_text() for page in failed.docs_pages)
    assert "E000777" not in pages and "E000777" not in str(failed.notes)
