"""Retry and freshness policies: what counts as transient, and when published data is late."""

from datetime import timedelta

import dagster as dg

from orchestration.settings import Settings

# A step that fails on something outside our control (the warehouse file briefly locked by
# another process, a source system's hiccup) gets three more tries, 15 s, 30 s, 60 s apart
# (± jitter). Bad input is not transient: those failures raise dg.Failure(allow_retries=False).
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# How long after the daily run starts the published marts must reflect it.
PUBLISH_GRACE = timedelta(hours=3)


def cron_after_daily_run(settings: Settings, after: timedelta, day_fields: str) -> str:
    """A cron line at XMO_DAILY_RUN_AT + `after` (wrapping past midnight) on `day_fields`."""
    start = settings.daily_run_at
    minutes = start.hour * 60 + start.minute + int(after.total_seconds() // 60)
    hour, minute = divmod(minutes % (24 * 60), 60)
    return f"{minute} {hour} {day_fields}"


def _freshness(settings: Settings, day_fields: str) -> dg.FreshnessPolicy:
    # Fresh when materialized in the day before the latest deadline (cron policy semantics).
    return dg.FreshnessPolicy.cron(
        deadline_cron=cron_after_daily_run(settings, PUBLISH_GRACE, day_fields),
        lower_bound_delta=timedelta(days=1),
        timezone=settings.timezone,
    )


def daily_freshness(settings: Settings) -> dg.FreshnessPolicy:
    """Published marts: rebuilt every day, by the daily run time + grace."""
    return _freshness(settings, "* * *")


def weekly_freshness(settings: Settings) -> dg.FreshnessPolicy:
    """The weekly pack: written on Mondays, by the daily run time + grace."""
    return _freshness(settings, "* * 1")


def monthly_freshness(settings: Settings) -> dg.FreshnessPolicy:
    """The monthly pack: written on the 1st, by the daily run time + grace."""
    return _freshness(settings, "1 * *")
