"""The Nexthink pull as an asset: device days from a saved NQL API query into the landing zone."""

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from ingestion.mapping import MappingError
from ingestion.nexthink.client import (
    ENV_API_VERSION,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_EXPORT_TIMEOUT,
    ENV_METHOD,
    ENV_QUERY_ID,
    ENV_TOKEN_URL,
    ENV_URL,
    NexthinkClient,
    NexthinkError,
    NexthinkSettings,
    settings_from_env,
)
from ingestion.nexthink.pull import PullResult, pull_device_days
from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import XmoDataDir
from orchestration.settings import Settings

NEXTHINK_PULL_KEY = dg.AssetKey(["landing", "nexthink_pull"])


class NexthinkDayError(ValueError):
    """A day the saved query cannot be asked for; the message says why and what to set."""


def nexthink_settings(settings: Settings, env: Mapping[str, str] | None = None) -> NexthinkSettings:
    """Where and as whom to pull: the data dir's settings, the API credentials from `env`.

    The credentials are read here, only when a pull is about to run, and never enter Settings.
    A NexthinkError names every missing or malformed XMO_NEXTHINK_* variable.
    """
    env = os.environ if env is None else env
    return settings_from_env(
        {
            ENV_URL: settings.nexthink_url or "",
            ENV_TOKEN_URL: settings.nexthink_token_url or "",
            ENV_QUERY_ID: settings.nexthink_query_id,
            ENV_API_VERSION: settings.nexthink_api_version,
            ENV_METHOD: settings.nexthink_method,
            ENV_EXPORT_TIMEOUT: str(settings.nexthink_export_timeout_s),
            ENV_CLIENT_ID: env.get(ENV_CLIENT_ID, ""),
            ENV_CLIENT_SECRET: env.get(ENV_CLIENT_SECRET, ""),
        }
    )


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def days_to_pull(settings: Settings, days: list[date], latest: date | None = None) -> list[date]:
    """The days to pull (default: yesterday, UTC), or a NexthinkDayError saying why not.

    Without XMO_NEXTHINK_DAY_PARAMETER the saved query describes the past day only, so only
    yesterday can be pulled: landing its answer under another day would file the wrong data.
    """
    latest = yesterday() if latest is None else latest
    days = sorted(set(days)) or [latest]
    future = [d for d in days if d > latest]
    if future:
        raise NexthinkDayError(
            f"{future[0]} is not a complete day yet; the latest day to pull is {latest}"
        )
    if settings.nexthink_day_parameter is None and days != [latest]:
        other = next(d for d in days if d != latest)
        raise NexthinkDayError(
            f"the saved query describes yesterday ({latest}) only, so {other} cannot be pulled; "
            "make the query take the day as an NQL parameter and name it in "
            "XMO_NEXTHINK_DAY_PARAMETER (docs/sources.md, 'Nexthink pull')"
        )
    return days


def run_nexthink_pull(
    settings: Settings, connection: NexthinkSettings, days: list[date]
) -> tuple[list[PullResult], int]:
    """Pull each day with this data dir's mappings and the configured method (execute,
    export, or auto); returns what was landed and the requests sent."""
    client = NexthinkClient.from_settings(connection)
    try:
        results = [
            pull_device_days(
                client,
                settings.landing_dir,
                day,
                mappings_dir=settings.mappings_dir,
                parameters=(
                    {settings.nexthink_day_parameter: day.isoformat()}
                    if settings.nexthink_day_parameter
                    else None
                ),
                method=connection.method,
            )
            for day in days
        ]
    finally:
        client.close()
    return results, client.requests


class NexthinkPullConfig(dg.Config):
    """Days to pull (YYYY-MM-DD); none means yesterday (UTC)."""

    days: list[str] = Field(default_factory=list)


@dg.asset(
    key=NEXTHINK_PULL_KEY,
    group_name="ingestion",
    kinds={"nexthink", "python"},
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Yesterday's device snapshots (config `days` for others, when the saved query takes the "
        "day as an NQL parameter): the answer of the saved NQL API query, written to "
        "landing/device/<day>/nexthink.csv exactly as a file drop would be, one row per device; "
        "through the export API when the estate exceeds the execute endpoint's 1,000 rows "
        "(XMO_NEXTHINK_METHOD). Needs XMO_NEXTHINK_URL, XMO_NEXTHINK_CLIENT_ID and "
        "XMO_NEXTHINK_CLIENT_SECRET (see docs/sources.md)."
    ),
)
def nexthink_pull(
    context: dg.AssetExecutionContext, config: NexthinkPullConfig, xmo: XmoDataDir
) -> dg.MaterializeResult:
    settings = xmo.settings_from_environment()
    try:
        days = days_to_pull(settings, [date.fromisoformat(d) for d in config.days])
        connection = nexthink_settings(settings)
    except (NexthinkError, ValueError) as exc:  # settings or days, not the remote system
        raise dg.Failure(str(exc), allow_retries=False) from None
    try:
        results, requests = run_nexthink_pull(settings, connection, days)
    except NexthinkError as exc:
        # The client has already retried within the pull; a transient give-up is retried by
        # the step's policy later, anything else needs a person.
        raise dg.Failure(f"Nexthink pull stopped: {exc}", allow_retries=exc.transient) from None
    except MappingError as exc:
        raise dg.Failure(f"device mapping: {exc}", allow_retries=False) from None
    records = sum(result.rows for result in results)
    methods = ", ".join(dict.fromkeys(result.method for result in results))
    context.log.info(
        f"pulled {records} device rows into {len(results)} day files in {requests} requests "
        f"(method: {methods or 'none'}, {ENV_METHOD}={connection.method})"
    )
    metadata: dict[str, object] = {
        "records": records,
        "files_written": len(results),
        "days": dg.MetadataValue.text(", ".join(r.day.isoformat() for r in results)),
        "requests": requests,
        "query_id": dg.MetadataValue.text(connection.query_id),
    }
    export_ids = [result.export_id for result in results if result.export_id]
    if export_ids:
        # A pull that went through the export API says so; an execute-only pull reports
        # what it always did (its metadata is unchanged).
        metadata["method"] = dg.MetadataValue.text(methods)
        metadata["export_id"] = dg.MetadataValue.text(", ".join(export_ids))
    return dg.MaterializeResult(metadata=metadata)
