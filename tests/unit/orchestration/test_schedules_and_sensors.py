"""The daily schedule, the landing sensor and the failure alert, evaluated as the daemon does."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import dagster as dg
import pytest

from ingestion.declared_sources import write_sources_file
from orchestration.alerts import RunAlert, deliver, describe_failed_run
from orchestration.schedules import FINGERPRINT_TAG, LOADED_MARKER_KEY, build_daily_schedule
from orchestration.sensors import build_failure_alert_sensor, build_landing_sensor
from orchestration.settings import Settings

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


def land(settings: Settings, day: date, sources=("survey", "itsm", "device"), age_s=3600) -> None:
    suffix = {"survey": "csv", "itsm": "json", "device": "parquet", "directory": "csv"}
    for source in sources:
        folder = settings.landing_dir / source / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"extract.{suffix[source]}"
        path.write_text(f"{source} {day}\n")
        written = time.time() - age_s
        os.utime(path, (written, written))


@pytest.fixture
def job() -> dg.JobDefinition:
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

    @dg.asset(partitions_def=partitions)
    def extract() -> None: ...

    return dg.define_asset_job("xmo_pipeline", selection=[extract], partitions_def=partitions)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def record_run(instance, partition: str, fingerprint: str, status=dg.DagsterRunStatus.SUCCESS):
    instance.add_run(
        dg.DagsterRun(
            job_name="xmo_pipeline",
            run_id=str(uuid.uuid4()),
            status=status,
            tags={"dagster/partition": partition, FINGERPRINT_TAG: fingerprint},
        )
    )


def test_the_daily_schedule_runs_yesterdays_utc_partition_at_the_local_run_time(
    settings, job, instance
):
    local = Settings.from_env(
        {
            "XMO_DATA_DIR": str(settings.data_dir),
            "XMO_TIMEZONE": "America/New_York",
            "XMO_DAILY_RUN_AT": "07:15",
        }
    )
    schedule = build_daily_schedule(job, local)
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "15 7 * * *",
        "America/New_York",
    )
    land(local, date(2026, 3, 9))
    # 07:15 in New York on 10 March is 11:15 UTC: 9 March is the last finished UTC day.
    tick = datetime(2026, 3, 10, 11, 15, tzinfo=UTC)
    request = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick))
    assert request.partition_key == "2026-03-09"
    assert request.tags["xmo/trigger"] == "schedule"
    assert request.tags[FINGERPRINT_TAG]


def test_the_schedule_skips_a_day_already_run_on_the_same_files(settings, job, instance):
    schedule = build_daily_schedule(job, settings)
    land(settings, date(2026, 3, 9))
    tick = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    fingerprint = schedule(context).tags[FINGERPRINT_TAG]
    record_run(instance, "2026-03-09", fingerprint, dg.DagsterRunStatus.FAILURE)
    assert isinstance(schedule(context), dg.RunRequest), "a failed run is no reason to skip"
    record_run(instance, "2026-03-09", fingerprint)
    result = schedule(context)
    assert isinstance(result, dg.SkipReason)
    assert "already ran on these files" in result.skip_message


def evaluate(sensor: dg.SensorDefinition, instance, cursor: str | None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_the_landing_sensor_runs_a_day_once_its_folders_are_complete(settings, job, instance):
    sensor = build_landing_sensor(job, settings)
    land(settings, YESTERDAY, sources=("survey", "device"))
    waiting = evaluate(sensor, instance, None)
    assert not waiting.run_requests
    assert f"{YESTERDAY}: no files yet from itsm" in waiting.skip_reason.skip_message

    land(settings, YESTERDAY, sources=("itsm",))
    started = evaluate(sensor, instance, waiting.cursor)
    assert [r.partition_key for r in started.run_requests] == [YESTERDAY.isoformat()]
    assert started.run_requests[0].tags["xmo/trigger"] == "landing_sensor"

    assert not evaluate(sensor, instance, started.cursor).run_requests, "only once"

    land(settings, YESTERDAY, sources=("itsm",), age_s=1800)  # re-delivered, settled
    again = evaluate(sensor, instance, started.cursor)
    assert [r.partition_key for r in again.run_requests] == [YESTERDAY.isoformat()]
    assert again.run_requests[0].run_key != started.run_requests[0].run_key


def test_the_landing_sensor_looks_as_often_as_configured(settings, job):
    assert build_landing_sensor(job, settings).minimum_interval_seconds == 60
    quick = Settings.from_env(
        {"XMO_DATA_DIR": str(settings.data_dir), "XMO_LANDING_POLL_SECONDS": "5"}
    )
    assert build_landing_sensor(job, quick).minimum_interval_seconds == 5


def test_the_landing_sensor_ignores_today_and_days_loaded_before_it_was_switched_on(
    settings, job, instance
):
    sensor = build_landing_sensor(job, settings)
    land(settings, YESTERDAY + timedelta(days=1))  # today: not a partition yet
    land(settings, YESTERDAY)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(LOADED_MARKER_KEY, partition=YESTERDAY.isoformat())
    )
    result = evaluate(sensor, instance, None)
    assert not result.run_requests
    # The loaded day is remembered with its files: a later re-delivery still starts a run.
    assert list(json.loads(result.cursor)) == [YESTERDAY.isoformat()]


def test_the_landing_sensor_waits_only_for_the_sources_the_organisation_declares(
    settings, job, instance
):
    sensor = build_landing_sensor(job, settings)
    land(settings, YESTERDAY, sources=("survey", "itsm"))
    waiting = evaluate(sensor, instance, None)
    assert f"{YESTERDAY}: no files yet from device" in waiting.skip_reason.skip_message
    # The organisation has no device tool: once it says so, the day is complete. The running
    # sensor reads the declaration again each tick; no reload of the definitions is needed.
    write_sources_file(settings.sources_file, ["itsm", "survey"])
    started = evaluate(sensor, instance, waiting.cursor)
    assert [r.partition_key for r in started.run_requests] == [YESTERDAY.isoformat()]
    # ... and the daily schedule fingerprints the same declared files, so it does not run the
    # day the sensor already ran.
    schedule = build_daily_schedule(job, settings)
    tick = datetime.combine(YESTERDAY + timedelta(days=1), datetime.min.time(), UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    assert schedule(context).tags[FINGERPRINT_TAG] == started.run_requests[0].tags[FINGERPRINT_TAG]


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status = 200

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Webhook.received, _Webhook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/xmo", _Webhook
    server.shutdown()


def failing_run(instance) -> dg.DagsterRun:
    """A real run that fails one blocking gate and one step, the way pipeline runs fail."""
    partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01")

    @dg.asset(partitions_def=partitions)
    def marts() -> None: ...

    @dg.asset_check(asset=marts, blocking=True)
    def marts_in_range() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description="happiness_score 130 > 100")

    @dg.asset(partitions_def=partitions)
    def load_itsm() -> None:
        raise dg.Failure("itsm extract not loaded: incident.json is truncated")

    defs = dg.Definitions(assets=[marts, load_itsm], asset_checks=[marts_in_range])
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key="2026-03-09", raise_on_error=False
    )
    assert not result.success
    return instance.get_run_by_id(result.run_id)


def test_a_failed_run_alerts_with_its_partition_failed_steps_and_gates(
    settings, instance, webhook, tmp_path
):
    url, received = webhook
    run = failing_run(instance)
    alert = describe_failed_run(instance, run, "http://127.0.0.1:3000")
    assert alert.partition == "2026-03-09"
    assert alert.url == f"http://127.0.0.1:3000/runs/{run.run_id}"
    assert any("load_itsm" in s and "truncated" in s for s in alert.failed_steps)
    assert alert.failed_checks == ["marts:marts_in_range (happiness_score 130 > 100)"]

    configured = Settings.from_env(
        {"XMO_DATA_DIR": str(settings.data_dir), "XMO_ALERT_WEBHOOK": url}
    )
    sensor = build_failure_alert_sensor(configured)
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure.dagster_event,
    ).for_run_failure()
    sensor(context)
    line = configured.alerts_log.read_text().strip()
    assert "XMO run FAILED" in line and run.run_id[:8] in line and "marts_in_range" in line
    assert received.received[0]["text"] == alert.text
    assert received.received[0]["failed_checks"] == alert.failed_checks


def test_an_unreachable_or_failing_webhook_is_reported_and_the_log_line_still_written(
    tmp_path, webhook
):
    url, received = webhook
    received.status = 500
    alert = RunAlert(job="xmo_pipeline", run_id="abcdef123456", partition=None, url="u")
    log = tmp_path / "alerts.log"
    assert deliver(alert, log, url) == ["webhook answered HTTP 500"]
    closed = "http://127.0.0.1:9/"  # discard port: nothing listens
    assert deliver(alert, log, closed)[0].startswith("webhook not reached")
    assert len(log.read_text().splitlines()) == 2
