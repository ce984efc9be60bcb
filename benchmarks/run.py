"""`make bench`: the pipeline against DuckDB's own speed and a pandas script, at three scales.

    python -m benchmarks.run [--scales S M L] [--out benchmarks] [--work benchmarks/work]

Per scale: generate landing data once (cached under the work dir) with one day more than the
scale, and hold that day back. Then, each measured as wall time and peak RSS of the whole
process tree:

1. full refresh: `xmo run --all` on an empty warehouse and a new Dagster instance (landing ->
   raw -> dbt -> checks -> publication -> packs), exactly what an operator runs;
2. incremental: the held-back day lands, `xmo run --partition <that day>`;
3. the floor: benchmarks/floor.sql, the two core marts by one DuckDB script from the landing files
   (the held-back day included, so that it computes what was published last);
4. pandas: benchmarks/pandas_marts.py, the same two marts in plain pandas;
5. for information, on the scales of --spark-scales (S by default), on each Spark target
   (`spark`: local mode in the dbt process; `spark_thrift`: a standalone cluster on loopback, two
   workers of one core, through its Thrift server): the full refresh of the scale's days and the
   daily run of the held-back day over the same landing files, the published core marts checked
   equal to DuckDB's.

The floor's and pandas' marts are compared with the published ones (they must be equal, or the
timings compare different work). Results merge into results.json and results.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import duckdb

from benchmarks.compare import compare_core_marts
from benchmarks.measure import Measurement, run_measured
from benchmarks.report import write_markdown
from benchmarks.spark_cluster import spark_cluster
from benchmarks.steps import dbt_node_timings, latest_run_id, run_step_timings

log = logging.getLogger("benchmarks")

BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
# dagster-dbt gives each dbt invocation a folder of its own under the project's target.
DBT_TARGET_DIR = HERE.parent / "dbt_project" / "target"
SOURCES = ("survey", "itsm", "device", "directory")
RAW_TABLES = {
    "survey": "survey_responses",
    "itsm": "itsm_tickets",
    "device": "device_snapshots",
    "directory": "directory_employees",
}
# A Monday, so the weeks of every scale are whole from the first day.
START = date(2025, 1, 6)
SEED = 7


@dataclass(frozen=True)
class Scale:
    name: str
    employees: int
    days: int

    @property
    def next_day(self) -> date:
        """The day held back for the incremental run."""
        return START + timedelta(days=self.days)


SCALES = {
    "S": Scale("S", 2_000, 90),
    "M": Scale("M", 20_000, 365),
    "L": Scale("L", 100_000, 365),
}


class BenchmarkError(Exception):
    """A step of the benchmark did not do its work; the message says which and where to look."""


@dataclass
class Workspace:
    root: Path
    data_dir: Path | None = None  # default: root/data
    dbt_target: str = "duckdb"
    extra_env: dict[str, str] = field(default_factory=dict)  # a Spark cluster's address

    @property
    def data(self) -> Path:
        return self.data_dir or self.root / "data"

    @property
    def landing(self) -> Path:
        return self.data / "landing"

    @property
    def reference(self) -> Path:
        return self.data / "reference"

    @property
    def held_back(self) -> Path:
        return self.root / "held_back"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "XMO_DATA_DIR": str(self.data),
            "XMO_DBT_TARGET": self.dbt_target,
            "PATH": _path_with_venv(),
            **self.extra_env,
        }


def _path_with_venv() -> str:
    return f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def _generator_digest() -> str:
    """A digest of the generator's code: data cached by an earlier generator is made again."""
    digest = hashlib.sha256()
    for path in sorted((HERE.parent / "ingestion" / "synthetic").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _generate(scale: Scale, ws: Workspace) -> None:
    """Landing data for the scale plus one day, generated once; the extra day held back."""
    marker = ws.root / "generated.json"
    wanted = {
        "employees": scale.employees,
        "days": scale.days + 1,
        "start": str(START),
        "seed": SEED,
        "generator": _generator_digest(),
    }
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return
    shutil.rmtree(ws.root, ignore_errors=True)
    ws.logs.mkdir(parents=True)
    log.info("%s: generating %s employees x %s days", scale.name, scale.employees, scale.days + 1)
    command = [
        str(BIN / "xmo"),
        "generate",
        "--employees",
        str(scale.employees),
        "--days",
        str(scale.days + 1),
        "--start",
        str(START),
        "--seed",
        str(SEED),
    ]
    with (ws.logs / "generate.log").open("w") as out:
        done = subprocess.run(command, env=ws.env(), stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise BenchmarkError(f"{scale.name}: generation failed; see {ws.logs / 'generate.log'}")
    marker.write_text(json.dumps(wanted))


def _move_day(source_root: Path, target_root: Path, day: date) -> None:
    for source in SOURCES:
        folder = source_root / source / day.isoformat()
        if folder.exists():
            (target_root / source).mkdir(parents=True, exist_ok=True)
            folder.rename(target_root / source / day.isoformat())


def _reset(scale: Scale, ws: Workspace) -> None:
    """Landing holds exactly the scale's days; everything derived from it is removed."""
    _move_day(ws.landing, ws.held_back, scale.next_day)
    for entry in ws.data.iterdir():
        if entry.name not in ("landing", "reference"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.rmtree(ws.root / "computed", ignore_errors=True)
    ws.logs.mkdir(exist_ok=True)


def _measure(name: str, scale: Scale, ws: Workspace, command: list[str]) -> Measurement:
    log_path = ws.logs / f"{name}.log"
    log.info("%s: %s ...", scale.name, name)
    measured = run_measured(command, ws.env(), log_path)
    if measured.returncode != 0:
        raise BenchmarkError(
            f"{scale.name}: {name} exited with {measured.returncode}; see {log_path}"
        )
    log.info("%s: %s %.1f s, peak %s MB", scale.name, name, measured.wall_s, measured.peak_rss_mb)
    return measured


def _steps(ws: Workspace) -> dict:
    """Where the run just measured spent its time: its steps (from its Dagster event log) and
    dbt's nodes (from its run_results.json)."""
    home = ws.data / "dagster_home"
    span, steps = run_step_timings(home)
    return {
        "events_span_s": round(span, 2),
        "steps": [[step.step, round(step.seconds, 2)] for step in steps],
        "dbt": dbt_node_timings(DBT_TARGET_DIR, latest_run_id(home)),
    }


def _raw_rows(ws: Workspace) -> dict[str, int]:
    with duckdb.connect(str(ws.data / "warehouse" / "xmo.duckdb"), read_only=True) as con:
        return {
            source: con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
            for source, table in RAW_TABLES.items()
        }


def _check_equal(what: str, scale: Scale, published: Path, computed: Path) -> list[str]:
    comparisons = compare_core_marts(published, computed)
    unequal = [c.describe() for c in comparisons if not c.equal]
    if unequal:
        raise BenchmarkError(
            f"{scale.name}: the {what} marts differ from the published ones, so their timings "
            f"would compare different work: {'; '.join(unequal)}"
        )
    return [c.describe() for c in comparisons]


# The Spark targets of --spark-scales: local mode in the dbt process, and a standalone cluster on
# loopback reached through its Thrift server (benchmarks/spark_cluster.py), sized to this
# machine: two workers of one core each.
SPARK_TARGETS = ("spark", "spark_thrift")
CLUSTER = {"workers": 2, "worker_cores": 1, "worker_memory": "3g", "executor_memory": "2g"}


def _bench_spark(scale: Scale, ws: Workspace, published: Path, target: str) -> dict:
    """The full refresh of the scale's days and the daily run of the held-back day on a Spark
    target, in a data dir of its own over the same landing; its published core marts must
    equal DuckDB's. Keys are prefixed with the target."""
    data = ws.root / f"{target}_data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    for shared in ("landing", "reference"):
        (data / shared).symlink_to(ws.data / shared, target_is_directory=True)
    spark_ws = Workspace(ws.root, data_dir=data, dbt_target=target)
    xmo = str(BIN / "xmo")
    last_day = scale.next_day - timedelta(days=1)
    scale_days = ["--from", START.isoformat(), "--to", last_day.isoformat()]
    with ExitStack() as stack:
        started = time.perf_counter()
        if target == "spark_thrift":
            shutil.rmtree(ws.root / "cluster", ignore_errors=True)  # an earlier run's metastore
            cluster = stack.enter_context(
                spark_cluster(
                    ws.root / "cluster", warehouse_dir=data / "spark" / "warehouse", **CLUSTER
                )
            )
            spark_ws.extra_env = {
                "XMO_SPARK_HOST": cluster.host,
                "XMO_SPARK_PORT": str(cluster.thrift_port),
                "XMO_SPARK_WAREHOUSE_DIR": str(cluster.warehouse_dir),
            }
        startup_s = time.perf_counter() - started
        full = _measure(f"{target}_full_refresh", scale, spark_ws, [xmo, "run", *scale_days])
        daily = _measure(
            f"{target}_incremental",
            scale,
            spark_ws,
            [xmo, "run", "--partition", scale.next_day.isoformat()],
        )
    compared = _check_equal(target, scale, published, data / "reporting" / "parquet")
    return {
        f"{target}_full_refresh_s": full.wall_s,
        f"{target}_incremental_s": daily.wall_s,
        # The orchestrator's process tree; a cluster's JVMs are not in it.
        f"{target}_peak_rss_mb": max(full.peak_rss_mb, daily.peak_rss_mb),
        f"{target}_marts_compared": compared,
        **({f"{target}_startup_s": round(startup_s, 1)} if target == "spark_thrift" else {}),
    }


def bench_scale(scale: Scale, work: Path, spark: bool = False) -> dict:
    ws = Workspace(work / scale.name)
    _generate(scale, ws)
    _reset(scale, ws)
    xmo = str(BIN / "xmo")
    python = str(BIN / "python")
    landing, reference = str(ws.landing), str(ws.reference)

    full = _measure("full_refresh", scale, ws, [xmo, "run", "--all"])
    full_steps = _steps(ws)
    rows = _raw_rows(ws)  # the scale's days, before the held-back one lands
    # The daily run comes right after the full refresh, as it does in operation: after the
    # pandas script (16 GB at L) the warehouse and the venv were evicted from the page cache,
    # and the run measured start-up from disk instead of the pipeline.
    _move_day(ws.held_back, ws.landing, scale.next_day)
    incremental = _measure(
        "incremental", scale, ws, [xmo, "run", "--partition", scale.next_day.isoformat()]
    )
    incremental_steps = _steps(ws)
    published = ws.root / "computed" / "published"
    shutil.copytree(ws.data / "reporting" / "parquet", published)

    # The floor and pandas read the same landing files, the held-back day included, so their
    # marts must equal what the incremental run published.
    floor_out, pandas_out = ws.root / "computed" / "floor", ws.root / "computed" / "pandas"
    floor = _measure(
        "floor", scale, ws, [python, "-m", "benchmarks.floor", landing, reference, str(floor_out)]
    )
    compared = _check_equal("floor", scale, published, floor_out)
    pandas = _measure(
        "pandas",
        scale,
        ws,
        [python, "-m", "benchmarks.pandas_marts", landing, reference, str(pandas_out)],
    )
    compared += _check_equal("pandas", scale, published, pandas_out)
    spark_result = {}
    for target in SPARK_TARGETS if spark else ():
        spark_result |= _bench_spark(scale, ws, published, target)

    return {
        "employees": scale.employees,
        "days": scale.days,
        "full_refresh_s": full.wall_s,
        "incremental_s": incremental.wall_s,
        "floor_s": floor.wall_s,
        "pandas_s": pandas.wall_s,
        "peak_rss_mb": max(full.peak_rss_mb, incremental.peak_rss_mb),
        "rows": rows,
        "peak_rss_mb_by_step": {
            "full_refresh": full.peak_rss_mb,
            "incremental": incremental.peak_rss_mb,
            "floor": floor.peak_rss_mb,
            "pandas": pandas.peak_rss_mb,
        },
        "marts_compared": compared,
        "full_refresh_steps": full_steps,
        "incremental_steps": incremental_steps,
        **spark_result,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **{p: version(p) for p in ("duckdb", "dagster", "dbt-core", "dbt-duckdb", "pandas")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=list(SCALES))
    parser.add_argument(
        "--spark-scales",
        nargs="*",
        choices=list(SCALES),
        default=["S"],
        help="scales that also run on the Spark targets, local mode and a loopback cluster "
        "(needs make install-spark and Java 17)",
    )
    parser.add_argument("--out", type=Path, default=HERE, help="where results.json/.md go")
    parser.add_argument("--work", type=Path, default=HERE / "work", help="generated data, logs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in args.scales:
        try:
            results[name] = bench_scale(
                SCALES[name], args.work.resolve(), spark=name in args.spark_scales
            )
        except BenchmarkError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        # Written after every scale, so a long run keeps what it measured.
        ordered = {n: results[n] for n in SCALES if n in results}
        results_path.write_text(json.dumps(ordered, indent=2) + "\n")
        write_markdown(ordered, args.out)
    print(f"Results: {results_path} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
