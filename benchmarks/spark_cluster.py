"""A real Apache Spark standalone cluster on 127.0.0.1, started from the installed pyspark package.

`spark_cluster(root, warehouse_dir=...)` starts a master, N workers and the Spark Thrift server
(HiveServer2 protocol, what dbt-spark's `thrift` method and PyHive talk to), waits until each
answers, yields their addresses and stops every process it started when the block ends — also
when the block raises or the start fails. The pyspark wheel ships the whole Spark distribution
(jars and `bin/` scripts), so no separate Spark download is needed; only Java 17.

Everything the cluster writes (logs, worker dirs, the Derby metastore, scratch and spill files)
goes under `root`, and the tables under `warehouse_dir`: nothing lands in the caller's working
directory or in a developer's own Spark configuration.

Used by the tests/spark fixture and by the benchmark; there is no pipeline logic here.
"""

from __future__ import annotations

import ctypes
import getpass
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.measure import process_stats

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# How many lines of a component's log a startup error quotes: enough for a Java stack trace's
# cause, short enough to read in a test failure.
LOG_TAIL_LINES = 40
POLL_EVERY_S = 0.5
# SIGTERM lets the JVMs run their shutdown hooks (the thrift server stops its SparkContext, a
# worker kills its executors); past this a process group is killed outright.
STOP_GRACE_S = 20.0
KILL_WAIT_S = 10.0

T = TypeVar("T")


class SparkClusterError(RuntimeError):
    """The cluster cannot start: the message says what failed and what to do, for a user."""


@dataclass(frozen=True)
class SparkCluster:
    """Where a running cluster answers."""

    host: str
    thrift_port: int
    master_url: str
    master_webui_url: str
    warehouse_dir: Path
    log_dir: Path


@dataclass
class _Component:
    """One started process: a JVM that leads its own session (and process group)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def exited(self) -> bool:
        return self.process.poll() is not None


# prctl(2): the kernel sends the child this signal when the process that started it dies.
_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """In the child before exec: a killed test run or benchmark (SIGKILL, a CI timeout) must
    not leave a cluster of several GB running; `finally` cannot run then. Linux only; the
    setting survives spark-class's exec of java."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: teardown relies on `finally` alone


def require_java_17() -> None:
    """Raise SparkClusterError unless the Java that Spark's scripts will run is Java 17.

    `bin/spark-class` runs `$JAVA_HOME/bin/java` when JAVA_HOME is set and otherwise the first
    `java` on PATH; this checks the same one, so the message matches what would fail.
    """
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    where = f"JAVA_HOME={java_home}" if java_home else "PATH"
    advice = (
        "pyspark 3.5 runs Spark on Java 17: install Java 17 (make java) or put a Java 17 first "
        "on PATH (and unset JAVA_HOME, or point it at that Java 17)."
    )
    if java is None or not Path(java).is_file():
        raise SparkClusterError(f"No Java found on {where}. {advice}")
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SparkClusterError(f"Could not run {java} -version ({error}). {advice}") from None
    # `java -version` writes to stderr, e.g. `openjdk version "17.0.15" 2025-04-15`.
    first_line = (result.stderr or result.stdout).strip().splitlines()[:1]
    found = first_line[0] if first_line else "no version output"
    if not re.search(r'version "17[."]', found):
        raise SparkClusterError(f"{java} (from {where}) is not Java 17: {found}. {advice}")


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    try:
        import pyspark
    except ImportError:
        raise SparkClusterError(
            "pyspark is not installed: install the spark extra (make install-spark) to start a "
            "Spark cluster."
        ) from None
    return Path(pyspark.__file__).parent


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now.

    All sockets stay bound until every port is chosen, so the ports differ from one another; a
    port could still be taken by someone else before Spark binds it (then startup fails loudly).
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def spark_cluster(
    root: Path,
    *,
    warehouse_dir: Path,
    workers: int = 2,
    worker_cores: int = 1,
    worker_memory: str = "1g",
    executor_memory: str = "512m",
    driver_memory: str = "1g",
    shuffle_partitions: int = 4,
    startup_timeout_s: float = 180,
) -> Iterator[SparkCluster]:
    """Start a master, `workers` workers and the Thrift server; stop them all on exit.

    `startup_timeout_s` bounds the whole start. The Thrift server's application takes every
    worker core (`workers * worker_cores`), one executor of `executor_memory` per worker.
    """
    require_java_17()
    home = spark_home()
    root = root.resolve()
    warehouse_dir = warehouse_dir.resolve()
    log_dir = root / "logs"
    for directory in (root, log_dir, warehouse_dir, root / "conf", root / "local", root / "hive"):
        directory.mkdir(parents=True, exist_ok=True)

    master_port, master_webui_port, thrift_port, *worker_webui_ports = free_ports(3 + workers)
    cluster = SparkCluster(
        host=HOST,
        thrift_port=thrift_port,
        master_url=f"spark://{HOST}:{master_port}",
        master_webui_url=f"http://{HOST}:{master_webui_port}",
        warehouse_dir=warehouse_dir,
        log_dir=log_dir,
    )
    environment = _environment(home, root)
    total_cores = workers * worker_cores
    started: list[_Component] = []
    start = time.monotonic()
    deadline = start + startup_timeout_s

    def launch(name: str, command: list[str]) -> _Component:
        component = _launch(name, command, root=root, log_dir=log_dir, environment=environment)
        started.append(component)
        return component

    try:
        master = launch(
            "master",
            [
                str(home / "bin" / "spark-class"),
                "org.apache.spark.deploy.master.Master",
                *("--host", HOST, "--port", str(master_port)),
                *("--webui-port", str(master_webui_port)),
            ],
        )

        def master_alive() -> bool | None:
            state = _master_state(cluster.master_webui_url)
            return True if state and state.get("status") == "ALIVE" else None

        # Workers start once the master leads: a worker that registers earlier is told the
        # master is in standby and only retries some 10 s later.
        _wait_for(master_alive, waiting_on=[master], started=started, deadline=deadline)
        log.info("Spark master %s up after %.1f s", cluster.master_url, time.monotonic() - start)
        for index, webui_port in enumerate(worker_webui_ports, start=1):
            work_dir = root / f"worker-{index}"
            work_dir.mkdir(exist_ok=True)
            launch(
                f"worker-{index}",
                [
                    str(home / "bin" / "spark-class"),
                    "org.apache.spark.deploy.worker.Worker",
                    *("--host", HOST, "--cores", str(worker_cores), "--memory", worker_memory),
                    *("--webui-port", str(webui_port), "--work-dir", str(work_dir)),
                    cluster.master_url,
                ],
            )

        def alive_workers() -> int | None:
            state = _master_state(cluster.master_webui_url)
            alive = state.get("aliveworkers") if state else None
            return alive if alive == workers else None

        # A worker that cannot register says why in its own log, not the master's.
        worker_components = [c for c in started if c is not master]
        _wait_for(alive_workers, waiting_on=worker_components, started=started, deadline=deadline)
        log.info("Spark workers (%d) registered after %.1f s", workers, time.monotonic() - start)

        # Started only now: an application registered before the workers would get no cores
        # until they arrive, and the readiness wait below would measure the workers instead.
        thrift = launch(
            "thrift server",
            _thrift_command(
                home,
                root=root,
                cluster=cluster,
                total_cores=total_cores,
                executor_memory=executor_memory,
                driver_memory=driver_memory,
                shuffle_partitions=shuffle_partitions,
            ),
        )
        _wait_for(
            lambda: _thrift_answers(HOST, thrift_port),
            waiting_on=[thrift],
            started=started,
            deadline=deadline,
        )
        log.info(
            "Spark Thrift server on %s:%d answers after %.1f s",
            HOST,
            thrift_port,
            time.monotonic() - start,
        )

        def cores_granted() -> int | None:
            state = _master_state(cluster.master_webui_url) or {}
            for app in state.get("activeapps", []):
                if app.get("state") == "RUNNING" and app.get("cores") == total_cores:
                    return total_cores
            return None

        # No executors means the driver (its scheduler log) or the master has the reason.
        _wait_for(cores_granted, waiting_on=[thrift, master], started=started, deadline=deadline)
        log.info(
            "Spark cluster ready: the Thrift server's application holds %d cores after %.1f s",
            total_cores,
            time.monotonic() - start,
        )
        yield cluster
    finally:
        _stop_all(started)


def _environment(home: Path, root: Path) -> dict[str, str]:
    # A developer's own SPARK_* settings (another SPARK_HOME, a conf dir with spark-defaults)
    # must not change this cluster: drop them and point Spark at an empty conf dir of its own.
    # JAVA_HOME is kept: it chooses the Java that require_java_17 checked.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPARK_")}
    environment.update(
        SPARK_HOME=str(home),
        SPARK_CONF_DIR=str(root / "conf"),
        SPARK_LOCAL_IP=HOST,
        SPARK_LOG_DIR=str(root / "logs"),
        SPARK_PID_DIR=str(root),
        SPARK_WORKER_DIR=str(root / "work"),
        # Shuffle and spill files of the driver and the executors, otherwise under /tmp where a
        # killed process would leave them behind.
        SPARK_LOCAL_DIRS=str(root / "local"),
    )
    return environment


def _thrift_command(
    home: Path,
    *,
    root: Path,
    cluster: SparkCluster,
    total_cores: int,
    executor_memory: str,
    driver_memory: str,
    shuffle_partitions: int,
) -> list[str]:
    hive_dir = root / "hive"
    confs = {
        "spark.sql.warehouse.dir": str(cluster.warehouse_dir),
        # Derby puts metastore_db and derby.log under derby.system.home, not in the cwd.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root / 'metastore'}",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        # The SparkContext (and so the server's port) waits until every executor has
        # registered, not the default 0 %: the first query then runs on the whole cluster.
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
    }
    hiveconfs = {
        "hive.server2.thrift.port": str(cluster.thrift_port),
        "hive.server2.thrift.bind.host": cluster.host,
        # Hive's session scratch and operation-log dirs default to /tmp/<user>; keep them here.
        "hive.exec.scratchdir": str(hive_dir / "scratch"),
        "hive.exec.local.scratchdir": str(hive_dir / "local-scratch"),
        # Per session, as Hive's default: a session that ends deletes its resources dir, and a
        # shared one vanished under the sessions opened next (dbt opens one per thread).
        "hive.downloaded.resources.dir": str(hive_dir / "${hive.session.id}_resources"),
        "hive.server2.logging.operation.log.location": str(hive_dir / "operation-logs"),
    }
    return [
        str(home / "bin" / "spark-submit"),
        *("--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"),
        *("--master", cluster.master_url),
        *("--executor-memory", executor_memory),
        *("--total-executor-cores", str(total_cores)),
        *("--driver-memory", driver_memory),
        *(part for key, value in confs.items() for part in ("--conf", f"{key}={value}")),
        *(part for key, value in hiveconfs.items() for part in ("--hiveconf", f"{key}={value}")),
        # The primary resource of a Spark-internal class (the thrift server ships with Spark).
        "spark-internal",
    ]


def _launch(
    name: str, command: list[str], *, root: Path, log_dir: Path, environment: dict[str, str]
) -> _Component:
    log_path = log_dir / f"{name.replace(' ', '-')}.log"
    with log_path.open("ab") as log_file:
        # A session of its own: teardown signals the whole group, and whatever the JVM starts
        # (a worker's executors) stays findable by its session id. The child keeps its own
        # copy of the log file descriptor; the parent's closes when this block ends.
        process = subprocess.Popen(
            command,
            cwd=root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
    log.info("Started Spark %s (pid %d), log %s", name, process.pid, log_path)
    return _Component(name=name, process=process, log_path=log_path)


def _wait_for(
    probe: Callable[[], T | None],
    *,
    waiting_on: list[_Component],
    started: list[_Component],
    deadline: float,
) -> T:
    """Poll `probe` until it returns a value; fail if a started process exits or time runs out.

    `waiting_on` are the components whose logs explain a timeout.
    """
    while True:
        for component in started:
            if component.exited():
                raise SparkClusterError(
                    f"The Spark {component.name} exited during startup with code "
                    f"{component.process.returncode}. {_log_tail(component.log_path)}"
                )
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            names = " and ".join(component.name for component in waiting_on)
            tails = "\n".join(_log_tail(component.log_path) for component in waiting_on)
            raise SparkClusterError(
                f"The Spark {names} did not become ready before the startup timeout; a slow or "
                f"busy machine may need a larger startup_timeout_s. {tails}"
            )
        time.sleep(POLL_EVERY_S)


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return f"Its log {log_path} could not be read."
    return f"Last {len(lines)} lines of {log_path}:\n" + "\n".join(lines)


def _master_state(webui_url: str) -> dict[str, Any] | None:
    """The master's status JSON, or None while its web UI does not answer yet."""
    try:
        with urllib.request.urlopen(f"{webui_url}/json/", timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):  # refused, reset, timed out, or half-written JSON
        return None


def _thrift_answers(host: str, port: int) -> bool | None:
    """True once the Thrift server runs a query; None while it does not."""
    # A plain connect first: cheap while the port is closed, and PyHive is only asked once
    # the server listens (it opens the port last, after the SparkContext and the metastore).
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return None
    from pyhive import hive

    # PyHive logs every statement at INFO: the readiness probe is not the caller's news.
    logging.getLogger("pyhive").setLevel(logging.WARNING)
    try:
        with hive.connect(host, port=port, username=getpass.getuser()) as connection:
            cursor = connection.cursor()
            cursor.execute("select 1")
            return True if cursor.fetchall() == [(1,)] else None
    except Exception:  # any transport or server error just means "not ready yet"
        return None


def _stop_all(started: list[_Component]) -> None:
    """Stop the thrift server, then the workers, then the master; kill what does not stop."""
    thrift = [c for c in started if c.name == "thrift server"]
    workers = [c for c in started if c.name.startswith("worker")]
    master = [c for c in started if c.name == "master"]
    for stage in (thrift, workers, master):
        if stage:
            _stop(stage)


def _stop(components: list[_Component]) -> None:
    for component in components:
        _signal_session(component.process.pid, signal.SIGTERM)
    grace_deadline = time.monotonic() + STOP_GRACE_S
    for component in components:
        if _wait_session_gone(component, grace_deadline):
            log.info("Stopped Spark %s", component.name)
            continue
        log.warning("Spark %s ignored SIGTERM for %.0f s: killing it", component.name, STOP_GRACE_S)
        _signal_session(component.process.pid, signal.SIGKILL)
        if not _wait_session_gone(component, time.monotonic() + KILL_WAIT_S):
            pid = component.process.pid
            log.error("Spark %s (session %d) survived SIGKILL", component.name, pid)


def _signal_session(session_id: int, signal_number: int) -> None:
    # The process group reaches the JVM and anything it started; a scan of /proc also reaches
    # a member that moved to a group of its own within the session.
    for target in {session_id, *_session_members(session_id)}:
        try:
            if target == session_id:
                os.killpg(target, signal_number)
            else:
                os.kill(target, signal_number)
        except (ProcessLookupError, PermissionError):
            pass  # already gone


def _wait_session_gone(component: _Component, deadline: float) -> bool:
    while True:
        component.process.poll()  # reaps the leader once it exits, so it leaves /proc
        if component.exited() and not _session_members(component.process.pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _session_members(session_id: int) -> list[int]:
    """Live (not zombie) processes of a session, from /proc."""
    return [
        pid
        for pid, (state, _ppid, _pgrp, session, *_) in process_stats()
        if int(session) == session_id and state not in ("Z", "X")
    ]


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.spark_cluster DIR`: a cluster to try the spark_thrift target on,
    until Ctrl-C; prints the environment that points the pipeline at it."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="logs, worker dirs and the metastore go here")
    parser.add_argument(
        "--warehouse",
        type=Path,
        help="spark.sql.warehouse.dir (default: ROOT/warehouse); the pipeline reads it too",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="1g")
    parser.add_argument("--executor-memory", default="512m")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    root = args.root.resolve()
    warehouse = (args.warehouse or root / "warehouse").resolve()

    def stop(signal_number: int, _frame: object) -> None:
        raise SystemExit(128 + signal_number)  # unwinds through the cluster's `finally`

    for signal_number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, stop)
    try:
        require_java_17()
        with spark_cluster(
            root,
            warehouse_dir=warehouse,
            workers=args.workers,
            worker_memory=args.worker_memory,
            executor_memory=args.executor_memory,
        ) as cluster:
            print(  # noqa: T201 (what the user runs next)
                "export XMO_DBT_TARGET=spark_thrift "
                f"XMO_SPARK_HOST={cluster.host} XMO_SPARK_PORT={cluster.thrift_port} "
                f"XMO_SPARK_WAREHOUSE_DIR={cluster.warehouse_dir}\n"
                f"master UI: {cluster.master_webui_url}; Ctrl-C stops the cluster",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except SparkClusterError as error:
        print(f"spark cluster: {error}", file=sys.stderr)  # noqa: T201
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
