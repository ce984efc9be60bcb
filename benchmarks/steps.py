"""Where a measured run's time went: its steps, read from the run's own Dagster event log.

    python -m benchmarks.steps <DAGSTER_HOME>     # the latest run

A run's wall time (benchmarks/measure.py) also holds what comes before its first event (the
process starting: imports, the Definitions, run planning) and after its last.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StepTiming:
    step: str
    start_s: float  # from the run's first event
    seconds: float


def _quiet_instance_logs() -> None:
    """Opening an instance logs its storage's migrations at INFO (alembic): not a result."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run_step_timings(dagster_home: Path) -> tuple[float, list[StepTiming]]:
    """The latest run's event span (first to last event) and each step's STEP_START to its
    success or failure, in the order they started."""
    os.environ["DAGSTER_HOME"] = str(dagster_home.resolve())
    _quiet_instance_logs()
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.get() as instance:
        [run] = instance.get_runs(limit=1)
        records = instance.all_logs(run.run_id)
    first = records[0].timestamp
    started: dict[str, float] = {}
    steps = []
    for record in records:
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            begin = started[event.step_key]
            steps.append(StepTiming(event.step_key, begin - first, record.timestamp - begin))
    return records[-1].timestamp - first, sorted(steps, key=lambda s: s.start_s)


def dbt_node_timings(target_dir: Path, run_id: str, top: int = 8) -> dict:
    """dbt's own account of the run's build: its elapsed time and its slowest nodes."""
    import json

    found = sorted(target_dir.glob(f"xmo_dbt_models-{run_id[:7]}-*/run_results.json"))
    if not found:
        return {}
    results = json.loads(found[-1].read_text())
    nodes = sorted(results["results"], key=lambda r: -r["execution_time"])
    by_kind: dict[str, float] = {}
    for node in results["results"]:
        kind = node["unique_id"].split(".")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + node["execution_time"]
    return {
        "elapsed_s": round(results["elapsed_time"], 2),
        "nodes": len(results["results"]),
        "seconds_by_kind": {kind: round(s, 2) for kind, s in by_kind.items()},
        "slowest": [[n["unique_id"], round(n["execution_time"], 2)] for n in nodes[:top]],
    }


def latest_run_id(dagster_home: Path) -> str:
    os.environ["DAGSTER_HOME"] = str(dagster_home.resolve())
    _quiet_instance_logs()
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        [run] = instance.get_runs(limit=1)
        return run.run_id


def main(argv: list[str] | None = None) -> int:
    [home] = argv if argv is not None else sys.argv[1:]
    span, steps = run_step_timings(Path(home))
    lines = [f"events span {span:.1f} s"]
    lines += [f"{step.step:<60} {step.start_s:7.2f} {step.seconds:7.2f}" for step in steps]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
