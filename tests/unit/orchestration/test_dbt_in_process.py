"""dbt in the run's process: the same events as a dbt process, the environment and the warehouse
file given back, and Ctrl-C (Dagster's termination) honoured."""

import inspect
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest
from dagster_dbt import DbtCliResource
from dagster_dbt.core import dbt_cli_invocation

from orchestration.dbt_in_process import InProcessDbt, dbt_in_this_process
from orchestration.resources import VENV_DBT

# Hours of work for DuckDB: only a cancelled query ends within the test.
# A secret's value, which dbt masks wherever it would print it.
SECRET = "s3cr3t-probe-value"
SLOW = "select sum(hash(a.range * b.range)) as n from range(1000000) a, range(1000000) b"


def _project(root: Path) -> Path:
    project = root / "probe"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: probe\nversion: '1.0'\nprofile: probe\nconfig-version: 2\n"
    )
    (project / "profiles.yml").write_text(
        "probe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'probe.duckdb'}\n      threads: 1\n      keep_open: false\n"
    )
    (project / "models" / "one.sql").write_text(
        f"{{{{ log('the probe says {SECRET}', info=True) }}}}"
        "select 1 as id, '{{ env_var(\"PROBE_VALUE\") }}' as value"
    )
    (project / "models" / "two.sql").write_text("select id from {{ ref('one') }}")
    (project / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: one\n    columns:\n      - name: id\n"
        "        data_tests: [unique]\n      - name: value\n"
        "        data_tests:\n          - accepted_values:\n              arguments:\n"
        "                values: ['nothing']\n"
    )
    return project


def _build(project: Path, value: str, in_process: bool):
    """`dbt build` as the pipeline starts it: the variable set only while dbt is started."""
    resource = DbtCliResource(
        project_dir=str(project), profiles_dir=str(project), dbt_executable=str(VENV_DBT)
    )
    os.environ.update(PROBE_VALUE=value, DBT_ENV_SECRET_PROBE=SECRET)
    try:
        if in_process:
            with dbt_in_this_process():
                invocation = resource.cli(["build"], raise_on_error=False)
        else:
            invocation = resource.cli(["build"], raise_on_error=False)
    finally:
        del os.environ["PROBE_VALUE"], os.environ["DBT_ENV_SECRET_PROBE"]
    events = list(invocation.stream_raw_events())
    printed = [json.dumps(e.raw_event) for e in events]
    assert any("the probe says *****" in line for line in printed)
    assert not any(SECRET in line for line in printed)
    # The events dagster-dbt turns into materializations and checks, by node name and status.
    results = sorted(
        (info["unique_id"].split(".")[2], info["node_status"])
        for e in events
        if e.is_result_event and (info := e.raw_event["data"]["node_info"])
    )
    return invocation, results


def test_the_seam_dagster_dbt_starts_dbt_through_is_where_we_replace_it():
    # dagster-dbt is pinned exactly; when an upgrade moves the call this test says so.
    assert "subprocess.Popen(" in inspect.getsource(dbt_cli_invocation.DbtCliInvocation.run)
    assert dbt_cli_invocation.subprocess is subprocess
    with dbt_in_this_process():
        assert dbt_cli_invocation.subprocess.Popen is InProcessDbt
    assert dbt_cli_invocation.subprocess is subprocess


def test_dbt_in_this_process_gives_what_a_dbt_process_gives(tmp_path):
    project = _project(tmp_path)

    in_process, nodes = _build(project, "from the run", in_process=True)

    assert isinstance(in_process.process, InProcessDbt)
    # `two` is skipped: `dbt build` builds nothing downstream of a failed test.
    assert nodes == [
        ("accepted_values_one_value__nothing", "fail"),
        ("one", "success"),
        ("unique_one_id", "pass"),
    ]
    # A failed test fails the build as dbt's exit code 1 would, with dbt's message collected.
    assert in_process.process.returncode == 1
    assert not in_process.is_successful()
    assert in_process.get_error() is not None
    assert (in_process.target_path / "dbt.log").stat().st_size > 0  # dbt's debug log, as before
    run_results = in_process.get_artifact("run_results.json")
    assert sorted(r["status"] for r in run_results["results"]) == [
        "fail",
        "pass",
        "skipped",
        "success",
    ]
    # The variable reached dbt while it built, and is gone from the environment after.
    assert "PROBE_VALUE" not in os.environ
    assert "DBT_ENV_SECRET_PROBE" not in os.environ
    # dbt gave the file back: this process may open it read-write, as after a dbt process.
    with duckdb.connect(str(tmp_path / "probe.duckdb")) as con:
        assert con.execute("select value from main.one").fetchall() == [("from the run",)]

    subprocess_invocation, subprocess_nodes = _build(project, "from the run", in_process=False)
    assert not isinstance(subprocess_invocation.process, InProcessDbt)
    assert subprocess_nodes == nodes


def test_an_interrupt_stops_the_build_as_ctrl_c_stops_a_dbt_process(tmp_path):
    project = _project(tmp_path)
    (project / "models" / "two.sql").write_text(
        f"{{{{ config(materialized='table') }}}} {SLOW} -- {{{{ ref('one') }}}}"
    )
    resource = DbtCliResource(
        project_dir=str(project), profiles_dir=str(project), dbt_executable=str(VENV_DBT)
    )
    os.environ["PROBE_VALUE"] = "x"
    try:
        with dbt_in_this_process():
            invocation = resource.cli(["run"], raise_on_error=False)
    finally:
        del os.environ["PROBE_VALUE"]
    started = threading.Event()

    def read() -> None:
        for event in invocation.stream_raw_events():
            node = event.raw_event["data"].get("node_info", {}).get("unique_id")
            if event.raw_event["info"]["name"] == "LogStartLine" and node == "model.probe.two":
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(60), "the slow model never started"
    begun = time.monotonic()
    invocation.process.send_signal(signal.SIGINT)

    assert invocation.process.wait(timeout=60) != 0
    assert time.monotonic() - begun < 30  # the query was cancelled, not run to its end
    reader.join(timeout=10)
    assert not reader.is_alive()
    statuses = {
        r["unique_id"]: r["status"] for r in invocation.get_artifact("run_results.json")["results"]
    }
    assert statuses.get("model.probe.two") != "success"
    with duckdb.connect(str(tmp_path / "probe.duckdb")) as con:  # released after the interrupt
        assert con.execute("select count(*) from main.one").fetchall() == [(1,)]


@pytest.fixture(autouse=True)
def _no_probe_value_left():
    yield
    assert "PROBE_VALUE" not in os.environ
