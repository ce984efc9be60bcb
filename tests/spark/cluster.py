"""A test cluster's processes, statements through its Thrift server, its target's environment."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

from pyhive import hive

from benchmarks.spark_cluster import SparkCluster


@dataclass
class RunningCluster:
    cluster: SparkCluster
    root: Path
    # Every pid seen in the cluster while it ran, checked again after it stopped.
    pids: set[int] = field(default_factory=set)


def cluster_processes(root: Path) -> dict[int, str]:
    """Live processes working in `root` (the daemons) or below it (executors): pid -> cmdline.

    The cluster starts its daemons with `root` as working directory and a worker starts each
    executor in its work dir under `root`, so this finds them without knowing their pids.
    """
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(Path(entry.path, "cwd")))
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours
            continue
        if cwd.is_relative_to(root) and is_alive(int(entry.name)):
            found[int(entry.name)] = cmdline
    return found


def is_alive(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line[stat_line.rindex(")") + 2] not in "ZX"  # a zombie has already exited


def execute(cluster: SparkCluster, sql: str, *, fetch: bool = True) -> list[tuple]:
    connection = hive.connect(cluster.host, port=cluster.thrift_port, username=getpass.getuser())
    with connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        # A statement (CTAS) has a result set without columns that PyHive cannot fetch.
        return cursor.fetchall() if fetch else []


# The tests' organisations are small: most of a model's time is the driver's (planning, the
# metastore, committing files), so more dbt threads than cores keep both busy, and two shuffle
# partitions (one task per core) do the work of four with fewer tasks and files.
SMALL_DATA = {"XMO_SPARK_THREADS": "4", "XMO_SPARK_SHUFFLE_PARTITIONS": "2"}


def empty_warehouse(cluster: SparkCluster) -> None:
    """Drop every database a test built (their tables' files go with them)."""
    for (database,) in execute(cluster, "show databases"):
        if database != "default":
            execute(cluster, f"drop database {database} cascade", fetch=False)


def thrift_environment(cluster: SparkCluster) -> dict[str, str]:
    """The environment of the spark_thrift target: dbt's profile and the pipeline's settings
    read it."""
    return {
        "XMO_DBT_TARGET": "spark_thrift",
        "XMO_SPARK_HOST": cluster.host,
        "XMO_SPARK_PORT": str(cluster.thrift_port),
        "XMO_SPARK_WAREHOUSE_DIR": str(cluster.warehouse_dir),
        **SMALL_DATA,
    }
