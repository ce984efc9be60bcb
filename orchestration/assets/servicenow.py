"""The ServiceNow REST pull as an asset: changed tickets and the directory into the landing zone."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ingestion.servicenow.client import Credentials, ServiceNowClient, ServiceNowError
from ingestion.servicenow.pull import pull_directory, pull_tickets
from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import XmoDataDir

SERVICENOW_PULL_KEY = dg.AssetKey(["landing", "servicenow_pull"])


@dg.asset(
    key=SERVICENOW_PULL_KEY,
    group_name="ingestion",
    kinds={"servicenow", "python"},
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Incidents and requested items changed since the last pull (Table API, watermark per "
        "table) and a sys_user snapshot, written to landing/ exactly as a file drop would be. "
        "Needs XMO_SERVICENOW_URL plus XMO_SERVICENOW_USER and _PASSWORD (Basic auth) or "
        "XMO_SERVICENOW_CLIENT_ID and _SECRET (OAuth 2.0, see docs/sources.md)."
    ),
)
def servicenow_pull(context: dg.AssetExecutionContext, xmo: XmoDataDir) -> dg.MaterializeResult:
    settings = xmo.settings_from_environment()
    if not settings.servicenow_url:
        raise dg.Failure("set XMO_SERVICENOW_URL to pull from ServiceNow", allow_retries=False)
    try:
        client = ServiceNowClient(settings.servicenow_url, Credentials.from_env())
        tickets = pull_tickets(client, settings.landing_dir, settings.servicenow_state_path)
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        directory = pull_directory(client, settings.landing_dir, yesterday)
    except ServiceNowError as exc:
        # The client has already retried within the pull; a transient give-up is retried by
        # the step's policy later, anything else needs a person.
        raise dg.Failure(f"ServiceNow pull stopped: {exc}", allow_retries=exc.transient) from None
    context.log.info(
        f"pulled {tickets.records} and {directory.records} in {client.requests} requests"
    )
    return dg.MaterializeResult(
        metadata={
            **{f"records_{table}": count for table, count in tickets.records.items()},
            "users": directory.records.get("sys_user", 0),
            "files_written": len(tickets.files) + len(directory.files),
            "requests": client.requests,
            "watermarks": dg.MetadataValue.json(tickets.watermarks),
        }
    )
