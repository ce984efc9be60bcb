"""The HappySignals API pull as an asset: changed survey responses into the landing zone."""

from datetime import datetime

import dagster as dg

from ingestion.happysignals.client import (
    HappySignalsApi,
    HappySignalsClient,
    HappySignalsError,
    token_from_env,
)
from ingestion.happysignals.pull import PullResult, pull_responses
from ingestion.mapping import MappingError, mapping_for
from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import XmoDataDir
from orchestration.settings import Settings

HAPPYSIGNALS_PULL_KEY = dg.AssetKey(["landing", "happysignals_pull"])


def run_happysignals_pull(
    settings: Settings, since: datetime | None = None
) -> tuple[PullResult, int]:
    """The pull with this data dir's settings; returns what it landed and the requests sent."""
    client = HappySignalsClient(
        settings.happysignals_url or "",
        token_from_env(),
        api=HappySignalsApi(
            endpoint=settings.happysignals_endpoint,
            updated_field=settings.happysignals_updated_field,
            page_param=settings.happysignals_page_param,
            token_encoding=settings.happysignals_token_encoding,
        ),
    )
    result = pull_responses(
        client,
        settings.landing_dir,
        settings.happysignals_state_path,
        mapping_for("survey", settings.mappings_dir),
        since=since,
    )
    return result, client.requests


@dg.asset(
    key=HAPPYSIGNALS_PULL_KEY,
    group_name="ingestion",
    kinds={"happysignals", "python"},
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Survey responses changed since the last pull (HappySignals API v2, watermark on "
        "`updated_at`), written to landing/survey/<day>/happysignals.csv exactly as a file drop "
        "would be, one row per response. Needs XMO_HAPPYSIGNALS_URL and XMO_HAPPYSIGNALS_TOKEN "
        "(see docs/sources.md)."
    ),
)
def happysignals_pull(context: dg.AssetExecutionContext, xmo: XmoDataDir) -> dg.MaterializeResult:
    settings = xmo.settings_from_environment()
    if not settings.happysignals_url:
        raise dg.Failure("set XMO_HAPPYSIGNALS_URL to pull from HappySignals", allow_retries=False)
    try:
        result, requests = run_happysignals_pull(settings)
    except HappySignalsError as exc:
        # The client has already retried within the pull; a transient give-up is retried by
        # the step's policy later, anything else needs a person.
        raise dg.Failure(f"HappySignals pull stopped: {exc}", allow_retries=exc.transient) from None
    except MappingError as exc:
        raise dg.Failure(f"survey mapping: {exc}", allow_retries=False) from None
    context.log.info(
        f"pulled {result.records} responses into {len(result.files)} day files "
        f"in {requests} requests"
    )
    return dg.MaterializeResult(
        metadata={
            "records": result.records,
            "files_written": len(result.files),
            "days": dg.MetadataValue.text(", ".join(result.days) or "none"),
            "requests": requests,
            "watermark": dg.MetadataValue.text(result.watermark or "none"),
        }
    )
