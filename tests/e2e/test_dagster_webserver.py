"""The Dagster webserver and daemon on 127.0.0.1 with a temporary DAGSTER_HOME, driven over GraphQL.

What a data engineer does in the UI, through the same API the UI uses: launch the daily job for
one partition, read the lineage, materializations and check results, then watch a run fail at
one step and re-execute it from the failure. The failure sensor's alert is checked too.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import duckdb
import pytest

from ingestion.synthetic.generator import GeneratorConfig
from tests.e2e.dagster_server import (
    RUN_TIMEOUT_S,
    STORAGES,
    Dagster,
    generated_organisation,
    serving,
)

pytestmark = pytest.mark.e2e

START = date(2026, 3, 2)
DAYS = 3


@pytest.fixture(scope="module", params=STORAGES)
def dagster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dagster]:
    """The suite runs once with Dagster's storage in SQLite files and once in PostgreSQL."""
    root = tmp_path_factory.mktemp(f"e2e_{request.param}")
    config = GeneratorConfig(employees=400, days=DAYS, start=START, seed=11)
    with generated_organisation(root, request.param, config) as (settings, storage_env):
        with serving(root, settings, storage_env) as server:
            yield server


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

RUN = """
query($id: ID!) {
  runOrError(runId: $id) {
    ... on Run {
      status
      tags { key value }
      stepStats { stepKey status }
      assetMaterializations {
        assetKey { path }
        metadataEntries { label ... on IntMetadataEntry { intValue } }
      }
    }
  }
}"""


def launch_partition(dagster: Dagster, day: date) -> str:
    launched = dagster.graphql(
        LAUNCH,
        {
            "params": {
                "selector": dagster.selector("xmo_pipeline"),
                "executionMetadata": {
                    "tags": [{"key": "dagster/partition", "value": day.isoformat()}]
                },
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def run_details(dagster: Dagster, run_id: str) -> dict[str, Any]:
    return dagster.graphql(RUN, {"id": run_id})["runOrError"]


@pytest.fixture(scope="module")
def first_run(dagster: Dagster) -> dict[str, Any]:
    # The first day: it holds the week's directory snapshot, which every later day builds on.
    run_id = launch_partition(dagster, START)
    status = dagster.wait_for_run(run_id)
    assert status == "SUCCESS", f"run {run_id} {status}; logs in {dagster.logs}"
    return {"id": run_id, **run_details(dagster, run_id)}


def test_a_partition_launched_over_graphql_materializes_everything_and_publishes(
    dagster: Dagster, first_run: dict[str, Any]
) -> None:
    materialized = {"/".join(m["assetKey"]["path"]): m for m in first_run["assetMaterializations"]}
    assert {"raw/itsm_tickets", "raw/quarantine_itsm", "staging/stg_itsm__tickets"} <= set(
        materialized
    )
    assert {f"marts/{m}" for m in ("service_experience_weekly", "xla_scorecard")} <= set(
        materialized
    )
    assert {"reporting/xmo_reporting", "reports/weekly_pack", "reports/monthly_pack"} <= set(
        materialized
    )
    # Row counts reach the UI: the loaded extract and the published total are not empty.
    for key in ("raw/itsm_tickets", "marts/service_experience_weekly", "reporting/xmo_reporting"):
        counts = {e["label"]: e.get("intValue") for e in materialized[key]["metadataEntries"]}
        assert counts["dagster/row_count"] > 0, key
    tags = {t["key"]: t["value"] for t in first_run["tags"]}
    assert tags["dagster/partition"] == START.isoformat()
    assert dagster.settings.reporting_path.exists()


def test_lineage_runs_from_raw_through_staging_and_marts_to_publication(
    dagster: Dagster, first_run: dict[str, Any]
) -> None:
    nodes = dagster.graphql(
        "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"
    )["assetNodes"]
    parents = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
        for n in nodes
    }
    groups = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
    chain = [
        "raw/itsm_tickets",
        "staging/stg_itsm__tickets",
        "intermediate/int_tickets_mapped_to_services",
        "marts/fct_ticket_experience",
        "reporting/xmo_reporting",
        "reports/weekly_pack",
    ]
    for upstream, downstream in itertools.pairwise(chain):
        assert upstream in parents[downstream], (upstream, downstream)
    assert [groups[key] for key in chain] == [
        "ingestion",
        "staging",
        "intermediate",
        "marts",
        "reporting",
        "reporting",
    ]
    assert groups["raw/quarantine_itsm"] == "quality"


def test_gate_results_and_freshness_policy_are_visible_per_mart(
    dagster: Dagster, first_run: dict[str, Any]
) -> None:
    node = dagster.graphql(
        """{ assetNodes(assetKeys: [{path: ["marts", "service_experience_weekly"]}]) {
              internalFreshnessPolicy { __typename }
              assetChecksOrError { ... on AssetChecks { checks {
                name blocking executionForLatestMaterialization { status runId } } } } } }"""
    )["assetNodes"][0]
    assert node["internalFreshnessPolicy"]["__typename"] == "CronFreshnessPolicy"
    checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
    gx = checks["service_experience_weekly_has_valid_schema_keys_and_ranges"]
    assert gx["blocking"]
    assert gx["executionForLatestMaterialization"]["status"] == "SUCCEEDED"
    assert gx["executionForLatestMaterialization"]["runId"] == first_run["id"]
    dbt_tests = [name for name in checks if name.startswith(("unique_", "not_null_"))]
    assert dbt_tests, "dbt tests appear as checks"
    for name in dbt_tests:
        assert checks[name]["executionForLatestMaterialization"]["status"] == "SUCCEEDED", name


def test_a_failed_step_is_re_executed_from_the_failure_and_alerts(
    dagster: Dagster, first_run: dict[str, Any]
) -> None:
    day = START + timedelta(days=2)
    itsm_folder = dagster.settings.landing_dir / "itsm" / day.isoformat()
    extract = sorted(itsm_folder.glob("*.json"))[0]
    good = extract.read_bytes()
    extract.write_bytes(good[: len(good) // 2])  # a transfer cut off half-way

    failed_id = launch_partition(dagster, day)
    assert dagster.wait_for_run(failed_id) == "FAILURE"
    failed = run_details(dagster, failed_id)
    steps = {s["stepKey"]: s["status"] for s in failed["stepStats"]}
    assert steps["load_itsm"] == "FAILURE"
    assert steps["load_survey"] == "SUCCESS"
    assert "xmo_dbt_models" not in steps or steps["xmo_dbt_models"] != "SUCCESS"
    published = {"/".join(m["assetKey"]["path"]) for m in failed["assetMaterializations"]}
    assert "reporting/xmo_reporting" not in published

    # The failure sensor (run by the daemon) writes the alert line naming run and step.
    alerts = dagster.settings.alerts_log
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        alerts.exists() and failed_id[:8] in alerts.read_text()
    ):
        time.sleep(2)
    line = alerts.read_text().splitlines()[-1]
    assert failed_id[:8] in line and "load_itsm" in line and day.isoformat() in line

    extract.write_bytes(good)  # the file is delivered again, whole
    answer = dagster.graphql(
        """mutation($params: ReexecutionParams!) {
             launchRunReexecution(reexecutionParams: $params) {
               __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
             } }""",
        {"params": {"parentRunId": failed_id, "strategy": "FROM_FAILURE"}},
    )["launchRunReexecution"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    rerun_id = answer["run"]["runId"]
    assert dagster.wait_for_run(rerun_id) == "SUCCESS", f"logs in {dagster.logs}"
    rerun = run_details(dagster, rerun_id)
    steps = {s["stepKey"]: s["status"] for s in rerun["stepStats"]}
    # Only the failed step and what depends on it ran again.
    assert steps["load_itsm"] == "SUCCESS"
    assert "load_survey" not in steps
    assert steps["xmo_dbt_models"] == "SUCCESS"
    published = {"/".join(m["assetKey"]["path"]) for m in rerun["assetMaterializations"]}
    assert "reporting/xmo_reporting" in published
    tags = {t["key"]: t["value"] for t in rerun["tags"]}
    assert tags["dagster/parent_run_id"] == failed_id
    assert tags["dagster/partition"] == day.isoformat()


def test_a_backfill_launched_like_the_ui_does_loads_every_day_and_rebuilds_them(
    dagster: Dagster, first_run: dict[str, Any]
) -> None:
    """The UI's *Launch backfill* over the job's partitions: raw loads run as one run over the
    range; the unpartitioned dbt step (no partition on its run) must still rebuild exactly the
    dates the backfill loaded, including a day that was never loaded before."""
    days = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
    job_assets = dagster.graphql(
        "query($job: PipelineSelector!) { assetNodes(pipeline: $job) { assetKey { path } } }",
        {
            "job": {
                "repositoryLocationName": dagster.location,
                "repositoryName": dagster.repository,
                "pipelineName": "xmo_pipeline",
            }
        },
    )["assetNodes"]
    assets = [{"path": node["assetKey"]["path"]} for node in job_assets]
    launched = dagster.graphql(
        """mutation($params: LaunchBackfillParams!) {
             launchPartitionBackfill(backfillParams: $params) {
               __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
           } }""",
        {"params": {"assetSelection": assets, "partitionNames": days}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = "REQUESTED"
    while time.monotonic() < deadline:
        status = dagster.graphql(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) "
            "{ ... on PartitionBackfill { status } } }",
            {"id": backfill_id},
        )["partitionBackfillOrError"]["status"]
        if status not in ("REQUESTED", "CANCELING"):
            break
        time.sleep(3)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), f"{status}; logs in {dagster.logs}"

    con = duckdb.connect(str(dagster.settings.warehouse_path), read_only=True)
    try:
        loaded = con.execute(
            # One snapshot per device and day: every loaded extract date stays in the stored
            # device history.
            "SELECT DISTINCT CAST(extract_date AS VARCHAR) "
            "FROM intermediate.int_device_days_scored "
            "ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert [day for (day,) in loaded] == days
