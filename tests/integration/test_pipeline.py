"""The whole Dagster job in-process on a temporary data dir: landing files to published marts.

A small synthetic organisation fills the weeks before; one week after it holds only a
hand-written extract for a test-bench service, whose numbers are computed by hand below.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.checks import build_gate_checks
from orchestration.cli import execute_pipeline, summarize
from orchestration.instance import get_instance
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_SEEDS_DIR, Settings
from quality.specs import MARTS
from tests.integration.warehouse import dbt_env, query

pytestmark = pytest.mark.integration

PUBLISHED_MARTS = sorted(MARTS)  # DESIGN §4 plus the channel breakdown

SYNTHETIC = GeneratorConfig(employees=300, days=30, start=date(2026, 6, 1), seed=5)
HAND_WEEK = date(2026, 6, 29)  # Monday after the synthetic timeline (which ends 2026-06-28)
HAND_DAY = date(2026, 6, 30)

# A service of its own, so no synthetic ticket lands in the hand-computed week.
HAND_SERVICE, HAND_BUSINESS_SERVICE = "SVC99", "XMO Test Bench"

# Six test-bench tickets resolved on Tuesday 2026-06-30, with the answers given that day.
#            number      opened               resolved             sla     reopens  rating lost
HAND_TICKETS = [
    ("INC9000001", "2026-06-29 09:00:00", "2026-06-30 09:00:00", "true", "0", "10", "5"),
    ("INC9000002", "2026-06-29 10:00:00", "2026-06-30 08:00:00", "true", "0", "9", ""),
    ("INC9000003", "2026-06-30 06:00:00", "2026-06-30 08:00:00", "true", "0", "9", "15"),
    ("INC9000004", "2026-06-29 12:00:00", "2026-06-30 12:00:00", "false", "1", "7", "40"),
    ("INC9000005", "2026-06-28 12:00:00", "2026-06-30 12:00:00", "true", "0", "6", "120"),
    ("INC9000006", "2026-06-30 10:00:00", "2026-06-30 11:00:00", "true", "0", "0", "300"),
]
# By hand: promoters (9-10) = 3, detractors (0-6) = 2, responses = 6 -> 100 * (3 - 2) / 6.
EXPECTED_HAPPINESS = 100 * (3 - 2) / 6
# Lost time over the 5 answers that report it: (5 + 15 + 40 + 120 + 300) / 5 = 96 minutes.
EXPECTED_AVG_LOST = 96.0
EXPECTED_TOTAL_LOST_HOURS = 480 / 60
# Resolution hours: 24, 22, 2, 24, 48, 1 -> sorted 1, 2, 22, 24, 24, 48 -> median 23.
EXPECTED_MTTR = 23.0


def write_hand_extract(landing: Path) -> None:
    itsm = landing / "itsm" / HAND_DAY.isoformat()
    itsm.mkdir(parents=True, exist_ok=True)
    records = [
        {
            "sys_id": f"hand{i}",
            "number": number,
            "sys_class_name": "incident",
            "opened_at": opened,
            "resolved_at": resolved,
            "closed_at": "",
            "sys_updated_on": resolved,
            "state": "6",
            "priority": "3",
            "contact_type": "phone",
            "business_service": {"value": "abc123", "display_value": HAND_BUSINESS_SERVICE},
            "caller_id": {"value": f"E{i:06d}", "display_value": "Someone"},
            "reassignment_count": "0",
            "reopen_count": reopens,
            "made_sla": sla,
        }
        for i, (number, opened, resolved, sla, reopens, _, _) in enumerate(HAND_TICKETS, start=1)
    ]
    (itsm / "hand_incident.json").write_text(json.dumps({"result": records}))
    survey = landing / "survey" / HAND_DAY.isoformat()
    with (survey / "hand_responses.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "response_id",
                "survey_type",
                "ticket_number",
                "topic",
                "responded_at",
                "respondent_id",
                "happiness",
                "lost_time_minutes",
                "factors",
                "comment",
                "language",
            ]
        )
        for i, (number, *_, rating, lost) in enumerate(HAND_TICKETS, start=1):
            writer.writerow(
                [
                    f"HAND{i}",
                    "ticket",
                    number,
                    "",
                    "2026-06-30T15:00:00Z",
                    f"E{i:06d}",
                    rating,
                    lost,
                    "speed_of_service",
                    "Thanks Anna",
                    "en",
                ]
            )
        # One ragged row (an export cut short) costs that row, not the day.
        handle.write("HAND7,ticket,INC9000001\r\n")


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("xmo") / "data"
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, SYNTHETIC)
    with (settings.reference_dir / "service_catalog.csv").open("a") as catalog:
        catalog.write(f"{HAND_SERVICE},Test Bench,XMO,2026-06-01\n")
    with (settings.reference_dir / "business_service_mapping.csv").open("a") as mapping:
        mapping.write(f"{HAND_BUSINESS_SERVICE},{HAND_SERVICE}\n")
    write_hand_extract(settings.landing_dir)
    dates = [
        date.fromordinal(d) for d in range(SYNTHETIC.start.toordinal(), HAND_DAY.toordinal() + 1)
    ]
    result = execute_pipeline(settings, dates)
    return settings, result, summarize(result)


def test_the_run_succeeds_and_publishes_every_mart(pipeline_run):
    settings, result, summary = pipeline_run
    assert result.success, summary.step_failures
    assert summary.published
    assert summary.checks_failed == []
    # The hand extract's ragged survey row is the run's one quarantined row, counted once
    # although the run's materializations cover thirty partitions.
    assert query(
        settings.warehouse_path, "SELECT source_line, reason FROM raw.quarantine_survey"
    ) == [(8, "3 fields, expected 11 (as in the header)")]
    assert summary.quarantined == 1
    # Every GX gate ran and passed (the dbt tests are checks too, on top of these).
    gates = {spec.name for check in build_gate_checks() for spec in check.check_specs}
    assert gates <= {name.split(":")[1] for name in summary.checks_passed}
    assert len(gates) == 61  # 49 on the marts, 12 on the raw sources
    tables = query(
        settings.reporting_path,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1",
    )
    assert [t for (t,) in tables] == sorted(PUBLISHED_MARTS)
    for (table,) in tables:
        assert (settings.reporting_parquet_dir / f"{table}.parquet").exists()


def test_dbt_materializations_carry_row_counts_the_period_covered_and_a_mart_preview(
    pipeline_run,
):
    settings, result, _ = pipeline_run
    metadata = {
        event.asset_key.to_user_string(): event.event_specific_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    weekly = metadata["marts/service_experience_weekly"]
    (rows,) = query(settings.warehouse_path, "SELECT count(*) FROM marts.service_experience_weekly")
    assert weekly["dagster/row_count"].value == rows[0]
    (first, last) = query(
        settings.warehouse_path,
        "SELECT min(week_start), max(week_start) FROM marts.service_experience_weekly",
    )[0]
    assert weekly["covers"].value == f"{first} … {last}"
    preview = weekly["preview"].value.splitlines()
    assert preview[0].startswith("| service_id | week_start |") and len(preview) == 2 + 5
    # Staging holds pseudonymised rows and comments: counted, never previewed.
    staging = metadata["staging/stg_survey__responses"]
    assert staging["dagster/row_count"].value > 0 and "preview" not in staging
    (first, last) = query(
        settings.warehouse_path,
        "SELECT min(extract_date), max(extract_date) FROM staging.stg_survey__responses",
    )[0]
    assert staging["covers"].value == f"{first} … {last}"


def test_the_hand_computed_week_is_published_exactly(pipeline_run):
    settings, _, _ = pipeline_run
    row = query(
        settings.reporting_path,
        "SELECT responses, happiness_score, avg_lost_time_minutes, total_lost_hours, "
        "tickets_resolved, response_rate, mttr_hours, sla_attainment, reopen_rate, low_sample "
        "FROM marts.service_experience_weekly WHERE service_id = 'SVC99' AND week_start = ?",
        [HAND_WEEK],
    )
    assert row == [
        (
            6,
            pytest.approx(EXPECTED_HAPPINESS),
            EXPECTED_AVG_LOST,
            EXPECTED_TOTAL_LOST_HOURS,
            6,
            1.0,
            EXPECTED_MTTR,
            pytest.approx(5 / 6),
            pytest.approx(1 / 6),
            False,
        )
    ]


def test_every_resolved_ticket_is_published_once_with_its_service(pipeline_run):
    settings, _, _ = pipeline_run
    staged = query(
        settings.warehouse_path,
        "SELECT count(*) FROM intermediate.int_tickets_mapped_to_services "
        "WHERE resolved_at IS NOT NULL",
    )
    published = query(
        settings.reporting_path,
        "SELECT count(*), count(DISTINCT ticket_number) FROM marts.fct_ticket_experience",
    )
    assert published[0] == (staged[0][0], staged[0][0])
    weekly_total = query(
        settings.reporting_path, "SELECT sum(tickets_resolved) FROM marts.service_experience_weekly"
    )
    assert weekly_total == staged
    # The synthetic organisation has a business service the catalog does not know.
    assert query(
        settings.reporting_path,
        "SELECT count(*) > 0 FROM marts.fct_ticket_experience WHERE service_id = 'unmapped'",
    ) == [(True,)]


def test_no_employee_id_or_comment_reaches_the_published_marts(pipeline_run):
    settings, _, _ = pipeline_run
    con = duckdb.connect(str(settings.reporting_path), read_only=True)
    try:
        # Every published table: the marts and the cockpit's health tables.
        text = " ".join(
            str(value)
            for schema, table in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
            for row in con.execute(f"SELECT * FROM {schema}.{table}").fetchall()
            for value in row
        )
    finally:
        con.close()
    assert "E000001" not in text
    assert "Thanks Anna" not in text


def test_a_failing_gate_blocks_publication_and_names_the_check(pipeline_run):
    settings, _, _ = pipeline_run
    before = query(
        settings.reporting_path,
        "SELECT count(*), sum(responses) FROM marts.service_experience_weekly",
    )
    # A survey tool that sends one ticket's answer three times under new ids yields a response
    # rate above 1 for that week: the GX range expectation must stop the publish.
    survey = settings.landing_dir / "survey" / HAND_DAY.isoformat() / "resent.csv"
    survey.write_text(
        "response_id,survey_type,ticket_number,responded_at,respondent_id,happiness\n"
        + "".join(
            f"RESENT{i},ticket,INC9000006,2026-06-30T16:00:00Z,E000006,0\n" for i in range(12)
        )
    )

    result = execute_pipeline(settings, [HAND_DAY])
    summary = summarize(result)

    # The day's window reached dbt at execution (the resent answers are in the marts: the
    # watermark alone would have skipped a date already loaded), and dbt re-used the parse
    # state the first run left instead of parsing the project again.
    [dbt_log] = (DBT_PROJECT_DIR / "target").glob(f"xmo_dbt_models-{result.run_id[:7]}-*/dbt.log")
    parse_messages = dbt_log.read_text()
    assert "Partial parsing enabled" in parse_messages
    assert "Unable to do partial parsing" not in parse_messages
    assert not summary.published
    # The response rate above 1 shows in the test bench's week and month alike.
    assert sorted(summary.checks_failed) == [
        "marts/service_experience_monthly:service_experience_monthly_has_valid_schema_keys_and_ranges",
        "marts/service_experience_weekly:service_experience_weekly_has_valid_schema_keys_and_ranges",
    ]
    # The rerun of the partition replaced it: the 6 original answers once, plus the 12 resent.
    assert query(
        settings.warehouse_path,
        "SELECT count(*), count(DISTINCT response_id) FROM raw.survey_responses "
        "WHERE _extract_date = ? AND (response_id LIKE 'HAND%' OR response_id LIKE 'RESENT%')",
        [HAND_DAY],
    ) == [(18, 18)]
    after = query(
        settings.reporting_path,
        "SELECT count(*), sum(responses) FROM marts.service_experience_weekly",
    )
    assert after == before


def test_the_dbt_unit_tests_pass_against_the_built_warehouse(pipeline_run):
    # The pipeline's builds leave unit tests out (they test model code, not data); here they run.
    settings, _, _ = pipeline_run
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "test",
            "--select",
            "test_type:unit",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(settings.data_dir / "dbt_unit_target"),
        ],
        env=dbt_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    # Twenty-four unit tests, all passed (dbt also counts the two on-run-start hooks among the
    # passes: the raw sources and the record of what a run touches).
    assert "24 unit tests" in result.stdout, result.stdout[-2000:]
    assert "PASS=26 WARN=0 ERROR=0" in result.stdout, result.stdout[-2000:]


def test_dbt_docs_generate_documents_every_published_mart(pipeline_run, tmp_path):
    settings, _, _ = pipeline_run
    target = tmp_path / "docs_target"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "docs",
            "generate",
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
    assert result.returncode == 0, result.stdout[-2000:]
    catalog = json.loads((target / "catalog.json").read_text())
    documented = {
        node["metadata"]["name"]
        for node in catalog["nodes"].values()
        if node["metadata"]["schema"] == "marts"
    }
    assert documented == set(PUBLISHED_MARTS)
    assert (target / "index.html").exists()


def test_a_broken_model_fails_the_dbt_step_once_without_retries_and_names_the_node(
    pipeline_run,
):
    settings, _, _ = pipeline_run
    targets = settings.reference_dir / "xla_targets.csv"
    good = targets.read_text() if targets.exists() else None
    # An XMO edits its targets by hand and types a word where a number belongs.
    targets.write_text(
        "service_id,indicator,target,amber_tolerance,higher_is_better\n"
        "*,happiness_score,seventy,5,true\n"
    )
    try:
        result = execute_pipeline(settings, [HAND_DAY])
    finally:
        if good is None:
            targets.unlink()
        else:
            targets.write_text(good)
    summary = summarize(result)

    assert not summary.published
    [failure] = [f for f in summary.step_failures if f.startswith("xmo_dbt_models")]
    assert "dbt build failed on" in failure and "xla_targets" in failure
    # Bad input is not transient: the step ran once, no retry was scheduled.
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries == []

    # The build stopped after the marts' parents took in the day: the marts are behind, and
    # the next build (targets fixed) rebuilds every period of theirs, then they are current.
    behind = settings.build_state_path.with_name("period_marts_behind")
    assert behind.exists()
    fixed = execute_pipeline(settings, [HAND_DAY])
    # (The dbt step: the gates after it may still hold an earlier test's bad answers.)
    assert not [f for f in summarize(fixed).step_failures if f.startswith("xmo_dbt_models")]
    with get_instance(settings) as instance:
        said = [r.user_message for r in instance.all_logs(fixed.run_id)]
    assert any("the period marts rebuild every period: an earlier build" in m for m in said)
    assert not behind.exists()


def test_a_collapsed_extract_stops_the_run_before_dbt_and_keeps_the_published_version(
    pipeline_run,
):
    settings, _, _ = pipeline_run
    before = query(
        settings.reporting_path,
        "SELECT count(*), sum(device_days) FROM marts.device_experience_weekly",
    )
    # The device extract of the day arrives with 5 devices instead of 300.
    extract = settings.landing_dir / "device" / HAND_DAY.isoformat() / "devices.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (FROM '{extract}' LIMIT 5) TO '{extract}.tmp' (FORMAT parquet)")
    con.close()
    Path(f"{extract}.tmp").replace(extract)

    summary = summarize(execute_pipeline(settings, [HAND_DAY]))

    assert not summary.published
    assert summary.checks_failed == [
        "raw/device_snapshots:raw_device_snapshots_volume_holds_against_previous_runs"
    ]
    # The extract loaded, but dbt never ran on it: the stored device history still holds the
    # last good extract (staging is a view of every raw version).
    assert query(
        settings.warehouse_path,
        "SELECT count(*) FROM raw.device_snapshots WHERE _extract_date = ?",
        [HAND_DAY],
    ) == [(5,)]
    assert query(
        settings.warehouse_path,
        "SELECT count(*) FROM intermediate.int_device_days_scored WHERE extract_date = ?",
        [HAND_DAY],
    ) == [(300,)]
    # And readers still get the last good version.
    assert (
        query(
            settings.reporting_path,
            "SELECT count(*), sum(device_days) FROM marts.device_experience_weekly",
        )
        == before
    )
