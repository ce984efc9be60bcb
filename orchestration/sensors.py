"""Sensors: start a day's run when its landing folders are complete; alert on failed runs."""

import json
import time
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from ingestion.landing import landing_status, recent_extract_dates
from orchestration.alerts import deliver, describe_failed_run
from orchestration.schedules import (
    FINGERPRINT_TAG,
    LOADED_MARKER_KEY,
    LOOKBACK_DAYS,
    TRIGGER_TAG,
    last_complete_day,
)
from orchestration.settings import Settings


def build_landing_sensor(
    job: UnresolvedAssetJobDefinition, settings: Settings
) -> dg.SensorDefinition:
    @dg.sensor(
        name="xmo_landing_sensor",
        job=job,
        minimum_interval_seconds=settings.landing_poll_seconds,
        default_status=(
            dg.DefaultSensorStatus.RUNNING
            if settings.automation_on
            else dg.DefaultSensorStatus.STOPPED
        ),
        description=(
            "Runs an extract date as soon as its landing folders are complete (every declared "
            "daily source delivered, each folder with a _SUCCESS marker or unchanged for "
            "XMO_LANDING_SETTLE_SECONDS); runs it again when the files are re-delivered."
        ),
    )
    def xmo_landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        first_tick = not context.cursor
        loaded = (
            context.instance.get_materialized_partitions(LOADED_MARKER_KEY) if first_tick else set()
        )
        newest = last_complete_day(datetime.now(UTC))
        requests: list[dg.RunRequest] = []
        waiting: list[str] = []
        # What the organisation declares now (sources.yml may have changed since the load).
        sources = settings.reread().sources
        recent = recent_extract_dates(settings.landing_dir, LOOKBACK_DAYS, sources)
        for day in recent:
            partition = day.isoformat()
            if day < settings.partitions_start or day > newest:
                continue  # not a partition (yet)
            status = landing_status(
                settings.landing_dir, day, time.time(), settings.landing_settle_seconds, sources
            )
            if not status.complete:
                waiting.append(f"{partition}: {status.reason}")
                continue
            if seen.get(partition) == status.fingerprint:
                continue
            seen[partition] = status.fingerprint
            # When the sensor is first switched on, days already loaded (e.g. by `xmo run`) are
            # taken as processed; only later deliveries start runs.
            if partition in loaded:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{partition}:{status.fingerprint}",
                    partition_key=partition,
                    tags={TRIGGER_TAG: "landing_sensor", FINGERPRINT_TAG: status.fingerprint},
                )
            )
        keep = {day.isoformat() for day in recent}
        cursor = json.dumps({k: v for k, v in sorted(seen.items()) if k in keep})
        if requests:
            days = [request.partition_key for request in requests]
            context.log.info(f"starting {len(requests)} run(s): {days}")
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        return dg.SensorResult(
            skip_reason="; ".join(waiting) or "no new or re-delivered extract folders",
            cursor=cursor,
        )

    return xmo_landing_sensor


def build_failure_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="xmo_run_failure_alert",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "On every failed run: a line in $XMO_DATA_DIR/alerts/alerts.log naming the job, "
            "partition, failed steps and gates, and a POST to XMO_ALERT_WEBHOOK when set."
        ),
    )
    def xmo_run_failure_alert(context: dg.RunFailureSensorContext) -> None:
        alert = describe_failed_run(context.instance, context.dagster_run, settings.ui_url)
        for problem in deliver(alert, settings.alerts_log, settings.alert_webhook):
            context.log.warning(problem)

    return xmo_run_failure_alert
