"""benchmarks.spark_cluster starts a real standalone Spark cluster and leaves no process behind.

Real JVMs, no mocks. The session's cluster (tests/spark/conftest.py: 2 workers of 1 core / 1g)
serves the query and status tests, and its teardown checks that every process it ran is gone.
Clusters that cannot start check the stop after a failed start (the same `finally` stops a
cluster whose `with` body raises).
"""

from __future__ import annotations

import json
import stat
import urllib.request
from pathlib import Path

import pytest

from benchmarks.spark_cluster import (
    SparkCluster,
    SparkClusterError,
    require_java_17,
    spark_cluster,
)
from tests.spark.cluster import RunningCluster, cluster_processes, execute

pytestmark = pytest.mark.spark

# The main class of each JVM the session's cluster runs, and how many of each.
EXPECTED_PROCESSES = {
    "org.apache.spark.deploy.master.Master": 1,
    "org.apache.spark.deploy.worker.Worker": 2,
    "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2": 1,
    "org.apache.spark.executor.CoarseGrainedExecutorBackend": 2,
}


def count_by_main_class(processes: dict[int, str]) -> dict[str, int]:
    return {
        main_class: sum(f" {main_class} " in f"{cmdline} " for cmdline in processes.values())
        for main_class in EXPECTED_PROCESSES
    }


def master_state(cluster: SparkCluster) -> dict:
    with urllib.request.urlopen(f"{cluster.master_webui_url}/json/", timeout=10) as response:
        return json.load(response)


def test_a_query_through_the_thrift_server_runs_on_the_executors(running: RunningCluster) -> None:
    cluster = running.cluster

    execute(
        cluster,
        "create table numbers using parquet as select id from range(0, 1000, 1, 4)",
        fetch=False,
    )

    assert execute(cluster, "select count(*), sum(id) from numbers") == [(1000, 499500)]
    assert list((cluster.warehouse_dir / "numbers").glob("*.parquet"))
    # An executor's stderr is in its worker's work dir: the tasks ran there, not in the driver.
    executor_logs = list(running.root.glob("worker-*/app-*/*/stderr"))
    assert len(executor_logs) == 2
    assert any("Finished task" in log.read_text() for log in executor_logs)
    # Nothing of the metastore or the tables in the working directory.
    assert (running.root / "metastore" / "metastore_db").is_dir()
    for directory in (Path.cwd(), running.root):  # Spark's defaults, relative to its cwd
        assert not (directory / "metastore_db").exists()
        assert not (directory / "spark-warehouse").exists()


def test_the_master_has_the_workers_and_the_thrift_servers_application(
    running: RunningCluster,
) -> None:
    cluster = running.cluster
    assert cluster.host == "127.0.0.1"
    assert cluster.master_url.startswith("spark://127.0.0.1:")
    assert cluster.log_dir.is_dir()

    state = master_state(cluster)

    assert state["status"] == "ALIVE"
    assert state["aliveworkers"] == 2
    [app] = state["activeapps"]
    assert app["state"] == "RUNNING"
    assert app["cores"] == 2
    assert app["memoryperexecutor"] == 512


def test_the_cluster_runs_a_master_two_workers_their_executors_and_the_thrift_server(
    running: RunningCluster,
) -> None:
    processes = cluster_processes(running.root)
    assert count_by_main_class(processes) == EXPECTED_PROCESSES
    # The session's teardown checks that none of them outlives the cluster.
    running.pids |= processes.keys()


def test_a_failed_start_names_the_component_and_stops_what_started(tmp_path: Path) -> None:
    root = tmp_path / "cluster"

    # The master's JVM alone takes seconds to answer.
    with (
        pytest.raises(SparkClusterError, match=r"Spark master did not become ready") as error,
        spark_cluster(root, warehouse_dir=tmp_path / "warehouse", startup_timeout_s=1),
    ):
        pytest.fail("the cluster cannot be up within a second")

    assert str(root / "logs" / "master.log") in str(error.value)
    assert cluster_processes(root) == {}


def test_a_component_that_exits_names_itself_and_stops_the_others(tmp_path: Path) -> None:
    root = tmp_path / "cluster"

    # The worker rejects the memory size and exits; the master is up by then.
    with (
        pytest.raises(SparkClusterError, match=r"Spark worker-1 exited during startup") as error,
        spark_cluster(root, warehouse_dir=tmp_path / "warehouse", workers=1, worker_memory="x"),
    ):
        pytest.fail("the cluster cannot start with that worker")

    assert "Usage: Worker [options] <master>" in str(error.value)  # the tail of its log
    assert cluster_processes(root) == {}


def test_require_java_17_explains_a_missing_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(SparkClusterError, match=r"No Java found on PATH") as error:
        require_java_17()

    assert "install Java 17 (make java) or put a Java 17 first on PATH" in str(error.value)


def test_require_java_17_explains_another_java_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(SparkClusterError, match=r'is not Java 17: openjdk version "11') as error:
        require_java_17()

    assert "install Java 17 (make java) or put a Java 17 first on PATH" in str(error.value)
