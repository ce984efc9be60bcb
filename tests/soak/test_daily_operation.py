"""The soak: weeks of daily operation under the daemon, with the faults that happen.

A generated organisation delivers its extracts into landing day after day; the landing sensor,
evaluated by the real daemon, starts every run. On the way: a day arrives late, a day is
delivered again with rows changed and removed, a ticket extract is cut off half-way and then
delivered whole, the survey tool stops for two days, a run's worker is killed (SIGKILL) in the
middle of a load, the daemon is restarted, and the data dir's disk is full for one run. A BI
reader polls the reporting database throughout.

At the end: every published mart equals a full refresh of the same landing files, every failed
run alerted exactly once (log line and webhook), no experience alert twice, nothing half-written
or locked is left, and the reader never saw a mixed or partial publication.

CI runs the short mode (8 days); `make soak` the long one (XMO_SOAK_DAYS=30, and
XMO_SOAK_REPORT=<file> for its report). Dagster's storage is PostgreSQL, as in production
(XMO_SOAK_STORAGE=sqlite for the embedded default).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ingestion.synthetic.generator import GeneratorConfig
from orchestration.resources import WAREHOUSE_POOL
from orchestration.settings import Settings
from tests.e2e.dagster_server import instance_storage, serving
from tests.integration.warehouse import schema_tables
from tests.soak.deliveries import SOURCES, Deliveries
from tests.soak.operation import Fault, FullDisk, Operator, polling_reader
from tests.unit.reporting.experience_marts import FakeWebhook

pytestmark = pytest.mark.e2e

DAYS = int(os.environ.get("XMO_SOAK_DAYS") or 8)
STORAGE = os.environ.get("XMO_SOAK_STORAGE") or "postgres"
POLL_S = 5
# Every fault the scenario injects, in order.
FAULTS = [
    "day arrives late",
    "day re-delivered changed",
    "ticket extract truncated, then re-delivered whole",
    "daemon restarted",
    "run worker SIGKILLed during a load",
    "survey source stopped for two days",
    "disk full",
]


def test_weeks_of_daily_operation_with_faults(tmp_path: Path) -> None:
    assert DAYS >= 8, "the faults need 8 days"
    started = time.monotonic()
    disk = FullDisk(tmp_path / "data")
    passed = False
    try:
        with (
            instance_storage(STORAGE) as storage_env,
            FakeWebhook() as run_alerts,
            FakeWebhook() as experience_alerts,
        ):
            env = {
                **storage_env,
                # Delivered files carry their delivery time: a folder counts once its files are
                # 2 s old, so the sensor never starts a run between two files of one delivery.
                "XMO_LANDING_SETTLE_SECONDS": "2",
                "XMO_LANDING_POLL_SECONDS": str(POLL_S),
                "XMO_ALERT_WEBHOOK": run_alerts.url,
                "XMO_EXPERIENCE_WEBHOOK": experience_alerts.url,
            }
            settings = Settings.from_env({"XMO_DATA_DIR": str(disk.data_dir), **env})
            last = _last_day(datetime.now(UTC).date())
            deliveries = Deliveries(
                settings,
                tmp_path / "generated",
                GeneratorConfig(employees=300, days=DAYS, start=last - timedelta(days=DAYS - 1)),
            )
            with (
                serving(tmp_path, settings, env) as dagster,
                mock.patch.dict(os.environ, {**env, "DAGSTER_HOME": str(settings.dagster_home)}),
                dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance,
                polling_reader(settings.reporting_path, tmp_path / "reader.jsonl") as polls,
            ):
                operator = Operator(dagster, instance)
                operator.switch_on_landing_sensor()
                _operate(operator, deliveries, disk, settings)
                _assert_nothing_left_behind(operator, settings)
            assert [f.name.split(" (")[0] for f in operator.faults] == FAULTS, operator.faults
            report = _report(operator, deliveries, polls, time.monotonic() - started)
            report["experience_alerts"] = len(experience_alerts.received)
            report["run_failure_alerts"] = len(run_alerts.received)
            _assert_runs_alerted_once(operator, settings, run_alerts.received)
            _assert_experience_alerts_once(settings, experience_alerts.received)
            _assert_the_reader_saw_whole_publications(polls)
            _assert_equal_to_a_full_refresh(settings, tmp_path / "full_refresh")
            report["elapsed_s"] = round(time.monotonic() - started)
            target = os.environ.get("XMO_SOAK_REPORT") or tmp_path / "soak_report.json"
            Path(target).write_text(json.dumps(report, indent=2) + "\n")
            passed = True
    finally:
        disk.release(keep_to=None if passed else tmp_path / "data_kept")


def _filler(days: int) -> int:
    """Ordinary days between the faults (none in the short mode)."""
    return (days - 8) // 5


def _last_day(today: date) -> date:
    """The period ends two days ago or up to two days earlier, so that the day that arrives late
    (and is re-delivered changed) is a working day, with answers and tickets to change."""
    last = today - timedelta(days=2)
    while (last - timedelta(days=DAYS - 2 - _filler(DAYS))).weekday() >= 5:
        last -= timedelta(days=1)
    return last


def _operate(op: Operator, deliveries: Deliveries, disk: FullDisk, settings: Settings) -> None:
    queue = list(deliveries.days)
    filler = _filler(len(queue))

    def ordinary(count: int) -> None:
        for _ in range(count):
            day = queue.pop(0)
            deliveries.deliver(day)
            [run] = op.settle(1)
            assert run.status == dg.DagsterRunStatus.SUCCESS, op._story(op.runs())

    def one_run(status: dg.DagsterRunStatus, day: str) -> dg.DagsterRun:
        [run] = op.settle(1)
        assert (run.status, run.tags["dagster/partition"]) == (status, day), op._story(op.runs())
        return run

    ordinary(1 + filler)

    # A day arrives late: the day after it is delivered (and run) first.
    late, after = queue.pop(0), queue.pop(0)
    deliveries.deliver(after)
    first = one_run(dg.DagsterRunStatus.SUCCESS, str(after))
    deliveries.deliver(late)
    second = one_run(dg.DagsterRunStatus.SUCCESS, str(late))
    op.faults.append(
        Fault("day arrives late", str(late), [first.run_id, second.run_id], "both ran")
    )

    # The late day again, with rows changed and removed (while it is among the latest 7 dates
    # of landing, which the sensor looks at).
    removed = deliveries.redeliver_changed(late)
    again = one_run(dg.DagsterRunStatus.SUCCESS, str(late))
    op.faults.append(Fault("day re-delivered changed", str(late), [again.run_id], str(removed)))
    ordinary(filler)

    # A ticket extract cut off half-way: the load fails, then the whole file is delivered.
    day = queue.pop(0)
    deliveries.deliver_truncated(day)
    failed = one_run(dg.DagsterRunStatus.FAILURE, str(day))
    assert "load_itsm" in op.failed_steps(failed.run_id)
    deliveries.deliver(day)
    whole = one_run(dg.DagsterRunStatus.SUCCESS, str(day))
    op.faults.append(
        Fault(
            "ticket extract truncated, then re-delivered whole",
            str(day),
            [failed.run_id, whole.run_id],
            f"failed at {', '.join(op.failed_steps(failed.run_id))}; the re-delivery ran",
        )
    )

    op.dagster.restart_daemon()
    op.faults.append(Fault("daemon restarted (SIGTERM, started again)", "", [], ""))
    ordinary(filler)

    # The survey tool stops for two days: those days wait for it; the next day, delivered
    # whole, has its run's worker killed in the middle of a load.
    stopped = [queue.pop(0), queue.pop(0)]
    delivered_at = time.time()
    for day in stopped:
        deliveries.deliver(day, tuple(s for s in SOURCES if s != "survey"))
    op.sensor_waits(since=delivered_at, reason=f"{stopped[-1]}: no files yet from survey")
    op.nothing_starts(2 * POLL_S)
    day = queue.pop(0)
    deliveries.deliver(day)
    killed_id, step = op.kill_worker_during_a_load(str(day))
    killed, retried = op.settle(2)
    assert killed.run_id == killed_id and killed.status == dg.DagsterRunStatus.FAILURE
    assert retried.parent_run_id == killed_id, op._story(op.runs())
    assert retried.status == dg.DagsterRunStatus.SUCCESS, op._story(op.runs())
    op.faults.append(
        Fault(
            "run worker SIGKILLed during a load",
            str(day),
            [killed_id, retried.run_id],
            f"killed in {step}; the run failed and was retried by the daemon",
        )
    )
    for day in stopped:
        deliveries.deliver(day, ("survey",))
    caught_up = op.settle(2)
    assert sorted(r.tags["dagster/partition"] for r in caught_up) == [str(d) for d in stopped]
    assert {r.status for r in caught_up} == {dg.DagsterRunStatus.SUCCESS}
    op.faults.append(
        Fault(
            "survey source stopped for two days",
            f"{stopped[0]}, {stopped[1]}",
            [r.run_id for r in caught_up],
            "no run until the survey extracts arrived; then both days ran",
        )
    )
    ordinary(filler)

    # The disk of the data dir is full for one run; the operator frees it and re-executes.
    day = queue.pop(0)
    with disk.full(deliveries.files_size(day) + 64 * 1024, settings.warehouse_path.parent):
        deliveries.deliver(day)
        failed = one_run(dg.DagsterRunStatus.FAILURE, str(day))
    rerun_id = op.re_execute_from_failure(failed.run_id)
    op.settle(0)
    rerun = op.instance.get_run_by_id(rerun_id)
    assert rerun is not None and rerun.status == dg.DagsterRunStatus.SUCCESS, op._story(op.runs())
    op.faults.append(
        Fault(
            "disk full" if disk.mounted else "disk full (simulated: warehouse folder read-only)",
            str(day),
            [failed.run_id, rerun_id],
            f"failed at {', '.join(op.failed_steps(failed.run_id))}; re-executed from failure",
        )
    )
    ordinary(len(queue))


def _assert_nothing_left_behind(op: Operator, settings: Settings) -> None:
    """No run in progress, no pool slot held, no staged or partial file, the warehouse free."""
    assert all(run.is_finished for run in op.runs())
    info = op.instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    assert (info.claimed_slots, info.pending_steps) == ([], []), info
    leftovers = [
        path
        for path in settings.data_dir.rglob("*")
        if path.name.endswith((".tmp", ".partial", ".delivering")) or ".tmp" in path.suffixes
    ]
    assert leftovers == [], leftovers
    duckdb.connect(str(settings.warehouse_path)).close()  # no process holds its lock


def _assert_runs_alerted_once(op: Operator, settings: Settings, posts: list[dict]) -> None:
    failed = [run.run_id for run in op.runs() if run.status == dg.DagsterRunStatus.FAILURE]
    lines = settings.alerts_log.read_text().splitlines() if settings.alerts_log.exists() else []
    texts = [post["text"] for post in posts]
    for run_id in failed:
        assert sum(run_id[:8] in line for line in lines) == 1, (run_id, lines)
        assert sum(run_id[:8] in text for text in texts) == 1, (run_id, texts)
    assert len(lines) == len(texts) == len(failed), (lines, texts)


def _assert_experience_alerts_once(settings: Settings, posts: list[dict]) -> None:
    path = settings.experience_alerts_log
    lines = path.read_text().splitlines() if path.exists() else []
    assert [line for line, n in Counter(lines).items() if n > 1] == []
    texts = [json.dumps(post, sort_keys=True) for post in posts]
    assert [text for text, n in Counter(texts).items() if n > 1] == []
    assert len(texts) == len(lines)


def _assert_the_reader_saw_whole_publications(polls: Path) -> None:
    seen = [json.loads(line) for line in polls.read_text().splitlines()]
    bad = [poll for poll in seen if poll.get("error") or poll.get("wrong")]
    assert bad == [], bad[:5]
    versions = {poll["version"] for poll in seen if "version" in poll}
    assert len(versions) > 1, "the reader saw no new publication"


def _assert_equal_to_a_full_refresh(settings: Settings, root: Path) -> None:
    """`xmo run --all` over copies of the same landing files, reference data and key."""
    fresh = Settings.from_env({"XMO_DATA_DIR": str(root)})
    shutil.copytree(settings.landing_dir, fresh.landing_dir)
    if settings.reference_dir.exists():
        shutil.copytree(settings.reference_dir, fresh.reference_dir)
    fresh.pseudonym_key_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(settings.pseudonym_key_path, fresh.pseudonym_key_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XMO_", "DAGSTER_HOME"))
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "xmo"), "run", "--all"],
        env={**env, "XMO_DATA_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    soaked = schema_tables(settings.reporting_path, "marts")
    full = schema_tables(fresh.reporting_path, "marts")
    assert sorted(soaked) == sorted(full)
    for mart, frame in full.items():
        pd.testing.assert_frame_equal(
            soaked[mart], frame, check_exact=False, rtol=1e-9, obj=f"marts.{mart}"
        )


def _report(op: Operator, deliveries: Deliveries, polls: Path, elapsed: float) -> dict:
    runs = op.runs()
    seen = [json.loads(line) for line in polls.read_text().splitlines()]
    return {
        "days": len(deliveries.days),
        "storage": STORAGE,
        "runs": len(runs),
        "runs_by_status": dict(Counter(run.status.value for run in runs)),
        "faults": [fault.__dict__ for fault in op.faults],
        "reader_polls": len(seen),
        "reader_versions": len({p["version"] for p in seen if "version" in p}),
        "operation_s": round(elapsed),
    }
