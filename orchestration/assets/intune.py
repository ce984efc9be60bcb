"""The Intune pull as an asset: the tenant's endpoint analytics snapshot into landing/device."""

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from ingestion.intune.client import (
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_GRAPH_URL,
    ENV_TENANT_ID,
    ENV_TOKEN_URL,
    IntuneClient,
    IntuneError,
    IntuneSettings,
    settings_from_env,
)
from ingestion.intune.pull import IntunePullResult, pull_device_snapshot
from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import XmoDataDir
from orchestration.settings import Settings

INTUNE_PULL_KEY = dg.AssetKey(["landing", "intune_pull"])


class IntuneDayError(ValueError):
    """A day the Intune snapshot cannot be filed under; the message says why."""


def intune_settings(settings: Settings, env: Mapping[str, str] | None = None) -> IntuneSettings:
    """Which tenant and Graph: the data dir's settings; the app credentials from `env`.

    The client id and secret are read here, only when a pull is about to run, and never enter
    Settings. An IntuneError names every missing or malformed XMO_INTUNE_* variable.
    """
    env = os.environ if env is None else env
    return settings_from_env(
        {
            ENV_TENANT_ID: settings.intune_tenant_id or "",
            ENV_GRAPH_URL: settings.intune_graph_url,
            ENV_TOKEN_URL: settings.intune_token_url or "",
            ENV_CLIENT_ID: env.get(ENV_CLIENT_ID, ""),
            ENV_CLIENT_SECRET: env.get(ENV_CLIENT_SECRET, ""),
        }
    )


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def day_to_pull(days: list[date], latest: date | None = None) -> date:
    """The day to file the snapshot under (yesterday, UTC), or an IntuneDayError saying why not.

    Graph answers endpoint analytics as they are now (30-day figures recomputed daily) and
    keeps no history, so the snapshot can only be filed as the latest complete day: filing it
    under an earlier day would describe that day with later data.
    """
    latest = yesterday() if latest is None else latest
    for day in sorted(set(days)):
        if day > latest:
            raise IntuneDayError(
                f"{day} is not a complete day yet; the latest day to pull is {latest}"
            )
        if day != latest:
            raise IntuneDayError(
                f"Intune's endpoint analytics are a snapshot of now (30-day figures, no history "
                f"in Graph), filed as yesterday ({latest}); {day} cannot be pulled any more "
                "(docs/sources.md, 'Microsoft Intune pull')"
            )
    return latest


def run_intune_pull(
    settings: Settings, connection: IntuneSettings, day: date
) -> tuple[IntunePullResult, int]:
    """Land the snapshot as `day`; returns what was landed and the Graph requests sent."""
    client = IntuneClient.from_settings(connection)
    try:
        result = pull_device_snapshot(client, settings.landing_dir, day)
    finally:
        client.close()
    return result, client.requests


class IntunePullConfig(dg.Config):
    """The day (YYYY-MM-DD) to file the snapshot under; empty means yesterday (UTC), the only
    day that can be pulled."""

    day: str = Field(default="")


@dg.asset(
    key=INTUNE_PULL_KEY,
    group_name="ingestion",
    kinds={"intune", "python"},
    retry_policy=TRANSIENT_RETRY,
    description=(
        "The tenant's Intune endpoint analytics as they are now (boot and sign-in times, "
        "30-day blue screens, app crashes and hangs, battery health where the tenant has it, "
        "the device's user), written to landing/device/<yesterday>/intune.csv, one row per "
        "device. Needs XMO_INTUNE_TENANT_ID, XMO_INTUNE_CLIENT_ID and XMO_INTUNE_CLIENT_SECRET "
        "and the application permission DeviceManagementManagedDevices.Read.All "
        "(see docs/sources.md)."
    ),
)
def intune_pull(
    context: dg.AssetExecutionContext, config: IntunePullConfig, xmo: XmoDataDir
) -> dg.MaterializeResult:
    settings = xmo.settings_from_environment()
    try:
        day = day_to_pull([date.fromisoformat(config.day)] if config.day else [])
        connection = intune_settings(settings)
    except (IntuneError, ValueError) as exc:  # settings or day, not the remote system
        raise dg.Failure(str(exc), allow_retries=False) from None
    try:
        result, requests = run_intune_pull(settings, connection, day)
    except IntuneError as exc:
        # The client has already retried within the pull; a transient give-up is retried by
        # the step's policy later, anything else needs a person.
        raise dg.Failure(f"Intune pull stopped: {exc}", allow_retries=exc.transient) from None
    context.log.info(
        f"pulled {result.rows} devices ({result.devices_without_user} without a user) "
        f"in {requests} requests"
    )
    if result.battery_note:
        context.log.warning(result.battery_note)
    return dg.MaterializeResult(
        metadata={
            "records": result.rows,
            "devices_without_user": result.devices_without_user,
            "battery": dg.MetadataValue.text("present" if result.battery else "absent"),
            "requests": requests,
            "day": dg.MetadataValue.text(result.day.isoformat()),
        }
    )
