"""A Spark cluster on loopback for the session (benchmarks/spark_cluster.py: a standalone master,
two workers and the Thrift server), and a fresh warehouse on it for each test that builds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from benchmarks.spark_cluster import SparkCluster, require_java_17, spark_cluster
from tests.spark.cluster import (
    RunningCluster,
    cluster_processes,
    empty_warehouse,
    is_alive,
    thrift_environment,
)


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    """The session's cluster; when the session ends, no process it ran may remain."""
    require_java_17()
    root = tmp_path_factory.mktemp("spark-cluster")
    with ExitStack() as stack:
        cluster = stack.enter_context(spark_cluster(root, warehouse_dir=root / "warehouse"))
        running = RunningCluster(cluster=cluster, root=root)
        yield running
        running.pids |= cluster_processes(root).keys()
    assert not [pid for pid in running.pids if is_alive(pid)]
    assert cluster_processes(root) == {}


@pytest.fixture
def spark_thrift(running: RunningCluster, monkeypatch: pytest.MonkeyPatch) -> SparkCluster:
    """The cluster with an empty warehouse, its target's environment set for the test."""
    empty_warehouse(running.cluster)
    for name, value in thrift_environment(running.cluster).items():
        monkeypatch.setenv(name, value)
    return running.cluster
