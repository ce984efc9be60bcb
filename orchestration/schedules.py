"""Schedules: the daily run of yesterday's partition (and, with the packs, Mondays and the 1st).

Daily partitions are UTC extract dates; a day's partition exists once the day is over. The daily
schedule is the deadline: it runs yesterday's partition at XMO_DAILY_RUN_AT in XMO_TIMEZONE,
whatever has landed, so a missing extract fails its freshness gate and alerts. The landing sensor
(sensors.py) is the fast path; both tag the run with the landing fingerprint, so neither repeats a
run the other already made on the same files.
"""

import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from ingestion.landing import landing_status
from orchestration.partitions import PARTITION_TAG
from orchestration.policies import cron_after_daily_run
from orchestration.settings import Settings

FINGERPRINT_TAG = "xmo/landing_fingerprint"
TRIGGER_TAG = "xmo/trigger"
# How far back the sensor looks for new or re-delivered extract folders.
LOOKBACK_DAYS = 7
# A raw asset every run of an extract date materializes, of the one source every organisation
# declares: its partitions are the dates already loaded.
LOADED_MARKER_KEY = dg.AssetKey(["raw", "itsm_tickets"])

_ACTIVE_OR_DONE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUCCESS,
]


def last_complete_day(moment: datetime) -> date:
    """The newest daily partition at `moment`: the last UTC day that is over."""
    return moment.astimezone(UTC).date() - timedelta(days=1)


def _default_status(settings: Settings) -> dg.DefaultScheduleStatus:
    return (
        dg.DefaultScheduleStatus.RUNNING
        if settings.automation_on
        else dg.DefaultScheduleStatus.STOPPED
    )


def ran_on_these_files(
    instance: dg.DagsterInstance, job_name: str, partition: str, fingerprint: str
) -> bool:
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=job_name,
            tags={PARTITION_TAG: partition, FINGERPRINT_TAG: fingerprint},
            statuses=_ACTIVE_OR_DONE,
        ),
        limit=1,
    )
    return bool(records)


def build_daily_schedule(
    job: UnresolvedAssetJobDefinition, settings: Settings
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="xmo_daily",
        cron_schedule=cron_after_daily_run(settings, timedelta(0), "* * *"),
        execution_timezone=settings.timezone,
        job=job,
        default_status=_default_status(settings),
        description=(
            "Yesterday's extract date (UTC) and everything downstream, at XMO_DAILY_RUN_AT in "
            "XMO_TIMEZONE, unless the landing sensor already ran it on the same files."
        ),
    )
    def xmo_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = last_complete_day(context.scheduled_execution_time)
        if day < settings.partitions_start:
            return dg.SkipReason(
                f"{day} is before XMO_PARTITIONS_START {settings.partitions_start}"
            )
        status = landing_status(
            settings.landing_dir,
            day,
            time.time(),
            settings.landing_settle_seconds,
            settings.reread().sources,
        )
        partition = day.isoformat()
        if ran_on_these_files(context.instance, job.name, partition, status.fingerprint):
            return dg.SkipReason(f"{partition} already ran on these files")
        if not status.complete:
            context.log.warning(f"{partition} is incomplete ({status.reason}); running anyway")
        return dg.RunRequest(
            run_key=f"{partition}:{status.fingerprint}",
            partition_key=partition,
            tags={TRIGGER_TAG: "schedule", FINGERPRINT_TAG: status.fingerprint},
        )

    return xmo_daily


def build_pack_schedules(
    weekly_job: UnresolvedAssetJobDefinition,
    monthly_job: UnresolvedAssetJobDefinition,
    settings: Settings,
) -> list[dg.ScheduleDefinition]:
    """The weekly pack on Mondays and the monthly pack on the 1st, 2 h after the daily run."""
    after = timedelta(hours=2)
    common = {"execution_timezone": settings.timezone, "default_status": _default_status(settings)}
    return [
        dg.ScheduleDefinition(
            name="xmo_weekly_pack",
            job=weekly_job,
            cron_schedule=cron_after_daily_run(settings, after, "* * 1"),
            description="Mondays: the pack of the week that just ended, from the published marts.",
            **common,
        ),
        dg.ScheduleDefinition(
            name="xmo_monthly_pack",
            job=monthly_job,
            cron_schedule=cron_after_daily_run(settings, after, "1 * *"),
            description="The 1st: the pack of the month that just ended, from the published marts.",
            **common,
        ),
    ]
