"""The landing sensor, evaluated by the real daemon, starts each day's run as soon as the sources
the organisation declares have landed: here an XMO with tickets and surveys and no device tool,
which under the old rule (survey, itsm and device) would have waited for ever.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from ingestion.declared_sources import write_sources_file
from ingestion.synthetic.generator import GeneratorConfig
from tests.e2e.dagster_server import (
    RUN_TIMEOUT_S,
    STORAGES,
    Dagster,
    generated_organisation,
    serving,
)

pytestmark = pytest.mark.e2e

SOURCES = ("itsm", "survey")
# The two days before today: the sensor starts only days that are over (UTC).
FIRST = datetime.now(UTC).date() - timedelta(days=2)
DAYS = [FIRST, FIRST + timedelta(days=1)]

SENSOR_RUNS = """
{
  runsOrError(filter: {tags: [{key: "xmo/trigger", value: "landing_sensor"}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""


@pytest.fixture(scope="module", params=STORAGES)
def two_source_organisation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dagster]:
    root = tmp_path_factory.mktemp(f"landing_sensor_{request.param}")
    # 400 employees: each day holds survey answers (proactive ones among them).
    config = GeneratorConfig(employees=400, days=len(DAYS), start=FIRST, seed=5, sources=SOURCES)
    with generated_organisation(root, request.param, config) as (settings, storage_env):
        write_sources_file(settings.sources_file, SOURCES)
        # The sensor switched on from the start, looking every 5 s; files count as settled at once.
        env = {
            "XMO_AUTOMATION": "on",
            "XMO_LANDING_SETTLE_SECONDS": "0",
            "XMO_LANDING_POLL_SECONDS": "5",
            **storage_env,
        }
        with serving(root, settings, env) as server:
            yield server


def _sensor_runs(dagster: Dagster) -> list[dict]:
    return dagster.graphql(SENSOR_RUNS)["runsOrError"]["results"]


def test_the_sensor_runs_each_day_once_its_declared_sources_have_landed(two_source_organisation):
    dagster = two_source_organisation
    assert not (dagster.settings.landing_dir / "device").exists()
    deadline = time.monotonic() + 2 * RUN_TIMEOUT_S
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = _sensor_runs(dagster)
        if len(runs) == len(DAYS) and all(r["status"] in ("SUCCESS", "FAILURE") for r in runs):
            break
        time.sleep(3)
    partitions = sorted(
        tag["value"] for run in runs for tag in run["tags"] if tag["key"] == "dagster/partition"
    )
    assert partitions == [day.isoformat() for day in DAYS], f"logs in {dagster.logs}"
    assert {run["status"] for run in runs} == {"SUCCESS"}, f"logs in {dagster.logs}"
    # Both days published; the device marts are there, empty, with their columns.
    con = duckdb.connect(str(dagster.settings.reporting_path), read_only=True)
    try:
        tickets = con.execute("SELECT count(*) FROM marts.fct_ticket_experience").fetchall()
        devices = con.execute("SELECT * FROM marts.device_experience_weekly").df()
    finally:
        con.close()
    assert tickets[0][0] > 0
    assert devices.empty and "dex_score" in devices.columns
