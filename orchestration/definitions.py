"""The one Definitions of the XMO pipeline; workspace.yaml and `xmo` both load it."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from orchestration.assets.dbt import build_dbt_assets, published_mart_keys
from orchestration.assets.experience_alerts import experience_alerts
from orchestration.assets.happysignals import HAPPYSIGNALS_PULL_KEY, happysignals_pull
from orchestration.assets.ingestion import PULL_KEYS, build_raw_assets
from orchestration.assets.intune import INTUNE_PULL_KEY, intune_pull
from orchestration.assets.nexthink import NEXTHINK_PULL_KEY, nexthink_pull
from orchestration.assets.reporting import build_publish_asset
from orchestration.assets.reports import MONTHLY_PACK_KEY, WEEKLY_PACK_KEY, build_pack_assets
from orchestration.assets.servicenow import SERVICENOW_PULL_KEY, servicenow_pull
from orchestration.checks import build_experience_drop_check, build_gate_checks
from orchestration.event_batches import enable_event_batches
from orchestration.partitions import daily_partitions
from orchestration.policies import daily_freshness, monthly_freshness, weekly_freshness
from orchestration.resources import XmoDataDir, dbt_project, dbt_resource
from orchestration.schedules import build_daily_schedule, build_pack_schedules
from orchestration.sensors import build_failure_alert_sensor, build_landing_sensor
from orchestration.settings import Settings
from orchestration.translator import XmoDbtTranslator

# Every process that runs steps loads these definitions: on PostgreSQL, where no storage of ours
# is loaded first, this is where batching is switched on.
enable_event_batches()

PIPELINE_JOB = "xmo_pipeline"
SERVICENOW_PULL_JOB = "servicenow_pull"
HAPPYSIGNALS_PULL_JOB = "happysignals_pull"
NEXTHINK_PULL_JOB = "nexthink_pull"
INTUNE_PULL_JOB = "intune_pull"
WEEKLY_PACK_JOB = "xmo_weekly_pack"
MONTHLY_PACK_JOB = "xmo_monthly_pack"


def publication_gates(specs: Iterable[dg.AssetCheckSpec]) -> list[dg.AssetCheckKey]:
    """Every blocking verdict on the raw data and the marts: publication re-reads them.

    Warn-only checks (experience_drops_this_week) are not gates: they never hold data back.
    """
    return [
        spec.key for spec in specs if spec.blocking and spec.asset_key.path[0] in ("raw", "marts")
    ]


def build_definitions(settings: Settings) -> dg.Definitions:
    settings.export_dbt_environment()
    project = dbt_project()
    partitions = daily_partitions(settings)
    raw_assets = build_raw_assets(partitions)
    freshness = daily_freshness(settings)
    dbt_models = build_dbt_assets(project, XmoDbtTranslator(mart_freshness=freshness))
    gate_checks = build_gate_checks()
    checks = [*gate_checks, build_experience_drop_check()]
    specs = [*(spec for check in checks for spec in check.check_specs), *dbt_models.check_specs]
    gates = publication_gates(specs)
    # Every verdict on the raw data and the marts, warnings included, for the Data health page.
    reported = [spec.key for spec in specs if spec.asset_key.path[0] in ("raw", "marts")]
    publish = build_publish_asset(published_mart_keys(project), freshness, gates, reported)
    packs = build_pack_assets(weekly_freshness(settings), monthly_freshness(settings))
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        # A pull talks to a remote system; each runs as its own job before the daily run.
        selection=dg.AssetSelection.all(include_sources=False)
        - dg.AssetSelection.assets(*PULL_KEYS),
        partitions_def=partitions,
        description=(
            "Load the selected extract dates, rebuild the dbt models, run every gate, "
            "publish the marts when all blocking checks pass, and write the session packs."
        ),
    )
    # One job per pull: each talks to its own remote system, on its own schedule.
    pulls = [
        dg.define_asset_job(name, selection=dg.AssetSelection.assets(key), description=text)
        for name, key, text in (
            (
                SERVICENOW_PULL_JOB,
                SERVICENOW_PULL_KEY,
                "Pull changed tickets and the directory from ServiceNow into landing/.",
            ),
            (
                HAPPYSIGNALS_PULL_JOB,
                HAPPYSIGNALS_PULL_KEY,
                "Pull changed survey responses from HappySignals into landing/survey.",
            ),
            (
                NEXTHINK_PULL_JOB,
                NEXTHINK_PULL_KEY,
                "Pull yesterday's device snapshots from Nexthink into landing/device.",
            ),
            (
                INTUNE_PULL_JOB,
                INTUNE_PULL_KEY,
                "Pull Intune's endpoint analytics snapshot (Microsoft Graph) into landing/device.",
            ),
        )
    ]
    weekly = dg.define_asset_job(
        WEEKLY_PACK_JOB,
        selection=dg.AssetSelection.assets(WEEKLY_PACK_KEY),
        description="Write the weekly XMO session pack from the published marts.",
    )
    monthly = dg.define_asset_job(
        MONTHLY_PACK_JOB,
        selection=dg.AssetSelection.assets(MONTHLY_PACK_KEY),
        description="Write the monthly XMO session pack from the published marts.",
    )
    return dg.Definitions(
        assets=[
            servicenow_pull,
            happysignals_pull,
            nexthink_pull,
            intune_pull,
            *raw_assets,
            dbt_models,
            publish,
            *packs,
            experience_alerts,
        ],
        asset_checks=checks,
        jobs=[pipeline, *pulls, weekly, monthly],
        # One process per run, for every job and for the runs of UI backfills and
        # materializations: the writers share one warehouse slot anyway, and a subprocess per
        # step would import the Definitions ~70 times per run.
        executor=dg.in_process_executor,
        schedules=[
            build_daily_schedule(pipeline, settings),
            *build_pack_schedules(weekly, monthly, settings),
        ],
        sensors=[build_landing_sensor(pipeline, settings), build_failure_alert_sensor(settings)],
        resources={
            "xmo": XmoDataDir(data_dir=str(settings.data_dir)),
            "dbt": dbt_resource(project),
        },
    )


defs = build_definitions(Settings.from_env())
