"""A snapshot of the asset graph, so that changes to it are reviewed, not accidental."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.definitions import PIPELINE_JOB, build_definitions
from quality.specs import MARTS


@pytest.fixture(scope="module")
def graph():
    from orchestration.settings import Settings

    defs = build_definitions(Settings.from_env({"XMO_DATA_DIR": "/tmp/xmo-definitions-test"}))
    return defs, defs.resolve_asset_graph()


def test_asset_keys_and_groups(graph):
    _, asset_graph = graph
    groups = {
        key.to_user_string(): asset_graph.get(key).group_name
        for key in asset_graph.get_all_asset_keys()
        if asset_graph.get(key).is_materializable
    }
    assert groups == {
        "landing/servicenow_pull": "ingestion",
        "landing/happysignals_pull": "ingestion",
        "landing/nexthink_pull": "ingestion",
        "landing/intune_pull": "ingestion",
        "raw/survey_responses": "ingestion",
        "raw/itsm_tickets": "ingestion",
        "raw/directory_employees": "ingestion",
        "raw/device_snapshots": "ingestion",
        "raw/quarantine_survey": "quality",
        "raw/quarantine_itsm": "quality",
        "raw/quarantine_directory": "quality",
        "raw/quarantine_device": "quality",
        "reference/service_catalog": "reference",
        "reference/business_service_mapping": "reference",
        "reference/service_mapping_rules": "reference",
        "reference/channel_mapping": "reference",
        "reference/survey_factors": "reference",
        "reference/xla_targets": "reference",
        "staging/stg_survey__responses": "staging",
        "staging/stg_itsm__tickets": "staging",
        "staging/stg_directory__employees": "staging",
        "staging/stg_device__snapshots": "staging",
        "intermediate/int_tickets_mapped_to_services": "intermediate",
        "intermediate/int_survey_responses_joined_to_tickets": "intermediate",
        "intermediate/int_device_days_scored": "intermediate",
        "intermediate/int_device_weeks_summed": "intermediate",
        "intermediate/int_xla_targets_resolved": "intermediate",
        "marts/dim_service": "marts",
        "marts/fct_ticket_experience": "marts",
        "marts/service_experience_weekly": "marts",
        "marts/service_experience_monthly": "marts",
        "marts/channel_experience_monthly": "marts",
        "marts/proactive_experience_monthly": "marts",
        "marts/device_experience_weekly": "marts",
        "marts/xla_baseline": "marts",
        "marts/xla_scorecard": "marts",
        "marts/watermelon_services": "marts",
        "marts/experience_hotspots": "marts",
        "marts/experience_changes": "marts",
        "marts/device_ticket_experience_monthly": "marts",
        "marts/dex_band_experience_monthly": "marts",
        "intermediate/int_employee_device_month": "intermediate",
        "intermediate/int_employee_journeys_joined": "intermediate",
        "reporting/xmo_reporting": "reporting",
        "reports/weekly_pack": "reporting",
        "reports/monthly_pack": "reporting",
        "reports/experience_alerts": "reporting",
    }


def test_lineage_runs_from_raw_through_dbt_to_publication(graph):
    _, asset_graph = graph
    upstream = asset_graph.get(dg.AssetKey(["staging", "stg_itsm__tickets"])).parent_keys
    assert dg.AssetKey(["raw", "itsm_tickets"]) in upstream
    for pack in ("weekly_pack", "monthly_pack"):
        # The packs read the published marts only, never the working warehouse.
        assert asset_graph.get(dg.AssetKey(["reports", pack])).parent_keys == {
            dg.AssetKey(["reporting", "xmo_reporting"])
        }
    published_from = asset_graph.get(dg.AssetKey(["reporting", "xmo_reporting"])).parent_keys
    assert published_from == {
        key for key in asset_graph.get_all_asset_keys() if key.path[0] == "marts"
    }
    assert len(published_from) == 14


def test_every_published_mart_and_raw_source_is_gated_by_blocking_gx_checks(graph):
    _, asset_graph = graph
    gx_checks: dict[str, set[str]] = {}
    for key in asset_graph.asset_check_keys:
        spec = asset_graph.get_check_spec(key)
        if key.name.startswith(("raw_", *MARTS)) and "__" not in key.name:
            assert spec.blocking, key.name
            gx_checks.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    assert set(gx_checks) == {f"marts/{t}" for t in MARTS} | {
        "raw/survey_responses",
        "raw/itsm_tickets",
        "raw/directory_employees",
        "raw/device_snapshots",
    }
    assert gx_checks["marts/service_experience_weekly"] == {
        "service_experience_weekly_has_valid_schema_keys_and_ranges",
        "service_experience_weekly_reconciles_with_staging",
        "service_experience_weekly_is_fresh",
        "service_experience_weekly_volume_holds_against_previous_run",
        "service_experience_weekly_happiness_within_recent_history",
    }
    assert gx_checks["raw/device_snapshots"] == {
        "raw_device_snapshots_has_valid_schema_keys_and_ranges",
        "raw_device_snapshots_is_fresh",
        "raw_device_snapshots_volume_holds_against_previous_runs",
    }
    # Every source's extracts must arrive, the weekly directory's too; every mart built from a
    # source is as fresh as its extracts (the catalog alone has no extracts to be late).
    assert "raw_directory_employees_is_fresh" in gx_checks["raw/directory_employees"]
    fresh = {t for t in MARTS if f"{t}_is_fresh" in gx_checks[f"marts/{t}"]}
    assert fresh == set(MARTS) - {"dim_service"}


def test_dbt_tests_are_asset_checks_too(graph):
    _, asset_graph = graph
    names = {key.name for key in asset_graph.asset_check_keys}
    assert "unique_fct_ticket_experience_ticket_number" in names
    assert "not_null_service_experience_weekly_service_id" in names
    # The singular reconciliation tests read several models; each is a check on the model
    # it guards.
    reconciliations = {
        key.name: key.asset_key.to_user_string()
        for key in asset_graph.asset_check_keys
        if key.name.startswith("assert_")
    }
    assert reconciliations == {
        "assert_device_weeks_add_up_to_the_scored_device_days": (
            "intermediate/int_device_weeks_summed"
        ),
        "assert_every_resolved_ticket_is_in_the_fact_once": "marts/fct_ticket_experience",
        "assert_weekly_and_monthly_responses_reconcile_with_staging": (
            "marts/service_experience_weekly"
        ),
        "assert_weekly_and_monthly_tickets_resolved_reconcile_with_staging": (
            "marts/service_experience_weekly"
        ),
        "assert_every_interval_contains_its_score": "marts/service_experience_weekly",
        "assert_experience_changes_q_values_and_significance_are_consistent": (
            "marts/experience_changes"
        ),
        "assert_experience_changes_reconcile_with_the_weekly_mart": "marts/experience_changes",
        "assert_journey_tickets_reconcile_with_the_tickets_of_employees_with_a_device": (
            "marts/device_ticket_experience_monthly"
        ),
    }


def test_the_pipeline_job_is_daily_partitioned_and_leaves_the_remote_pull_out(graph):
    defs, _ = graph
    job = defs.resolve_job_def(PIPELINE_JOB)
    assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert not {s for s in selected if s.startswith("landing/")}
    assert {"reporting/xmo_reporting", "reports/weekly_pack", "reports/monthly_pack"} <= selected
    for name in ("servicenow_pull", "happysignals_pull", "nexthink_pull", "intune_pull"):
        pull = defs.resolve_job_def(name)
        assert {k.to_user_string() for k in pull.asset_layer.selected_asset_keys} == {
            f"landing/{name}"
        }
        assert pull.partitions_def is None


def test_the_raw_tables_are_fed_by_their_pulls(graph):
    _, asset_graph = graph
    fed_by = {
        "itsm_tickets": {"servicenow_pull"},
        "directory_employees": {"servicenow_pull"},
        "survey_responses": {"happysignals_pull"},
        "device_snapshots": {"nexthink_pull", "intune_pull"},
    }
    for table, pulls in fed_by.items():
        parents = asset_graph.get(dg.AssetKey(["raw", table])).parent_keys
        assert {key for key in parents if key.path[0] == "landing"} == {
            dg.AssetKey(["landing", pull]) for pull in pulls
        }


def test_the_pulls_may_retry_transient_failures(graph):
    defs, _ = graph
    for name in ("servicenow_pull", "happysignals_pull", "nexthink_pull", "intune_pull"):
        job = defs.resolve_job_def(name)
        policy = job.graph.node_named(f"landing__{name}").definition.retry_policy
        assert policy is not None and policy.max_retries == 3, name


def test_published_data_has_freshness_policies_and_the_rest_none(graph):
    _, asset_graph = graph
    with_policy = {
        key.to_user_string(): asset_graph.get(key).freshness_policy
        for key in asset_graph.get_all_asset_keys()
        if asset_graph.get(key).freshness_policy is not None
    }
    assert set(with_policy) == {f"marts/{m}" for m in MARTS} | {
        "reporting/xmo_reporting",
        "reports/weekly_pack",
        "reports/monthly_pack",
    }
    # The daily run starts at 06:00 UTC by default; published data is due three hours later,
    # the weekly pack on Mondays and the monthly pack on the 1st.
    deadlines = {
        key: (policy.deadline_cron, policy.timezone) for key, policy in with_policy.items()
    }
    assert deadlines["reporting/xmo_reporting"] == ("0 9 * * *", "UTC")
    assert deadlines["marts/xla_scorecard"] == ("0 9 * * *", "UTC")
    assert deadlines["reports/weekly_pack"] == ("0 9 * * 1", "UTC")
    assert deadlines["reports/monthly_pack"] == ("0 9 1 * *", "UTC")


def test_writers_retry_transient_failures_with_backoff(graph):
    defs, _ = graph
    job = defs.resolve_job_def(PIPELINE_JOB)
    for step in ("load_itsm", "load_device", "xmo_dbt_models", "reporting__xmo_reporting"):
        policy = job.graph.node_named(step).definition.retry_policy
        assert policy is not None and policy.max_retries == 3, step
        assert policy.backoff == dg.Backoff.EXPONENTIAL


def test_schedules_and_sensors_stop_by_default_except_the_failure_alert(graph):
    defs, _ = graph
    crons = {
        name: defs.resolve_schedule_def(name).cron_schedule
        for name in ("xmo_daily", "xmo_weekly_pack", "xmo_monthly_pack")
    }
    assert crons == {
        "xmo_daily": "0 6 * * *",
        "xmo_weekly_pack": "0 8 * * 1",
        "xmo_monthly_pack": "0 8 1 * *",
    }
    for name in crons:
        assert defs.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.STOPPED
    assert defs.resolve_sensor_def("xmo_landing_sensor").default_status == (
        dg.DefaultSensorStatus.STOPPED
    )
    assert defs.resolve_sensor_def("xmo_run_failure_alert").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )


def test_every_run_executes_in_one_process_ui_backfills_included(graph):
    defs, _ = graph
    assert defs.resolve_job_def(PIPELINE_JOB).executor_def.name == "in_process"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"
