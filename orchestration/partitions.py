"""Daily partitions by extract date (the landing folder's date), in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import dagster as dg

from orchestration.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone="UTC"
    )


PARTITION_TAG = "dagster/partition"
# A run tagged so rebuilds every dbt model from raw (`xmo run --full-refresh`; the UI: add the
# tag when launching): after a change of pseudonym key, the one way to a warehouse of one key.
FULL_REFRESH_TAG = "xmo/full_refresh"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def extract_window_vars(tags: Mapping[str, str]) -> dict[str, str]:
    """The dbt vars for the extract dates a run covers (empty when it covers no partition).

    The incremental models rebuild exactly these extract dates, so a backfill or a rerun of an
    old day reprocesses that day and nothing else.
    """
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    elif PARTITION_TAG in tags:
        start = end = tags[PARTITION_TAG]
    else:
        return {}
    for value in (start, end):
        date.fromisoformat(value)  # partition keys of a daily partitioning are ISO dates
    return {"extract_date_from": start, "extract_date_to": end}


# How a run's window reaches dbt (dbt_project/macros/extract_window.sql): in the environment,
# not as --vars, which dbt counts as parse state and would re-parse the project for each day.
WINDOW_ENVIRONMENT = {
    "extract_date_from": "XMO_EXTRACT_DATE_FROM",
    "extract_date_to": "XMO_EXTRACT_DATE_TO",
}


def extract_dates_loaded_since(
    instance: dg.DagsterInstance, raw_keys: list[dg.AssetKey], since: float | None
) -> list[str]:
    """Extract dates (raw partitions) materialized after `since`, sorted.

    A run without partition tags (the unpartitioned dbt step of a UI backfill, a manual
    materialization) rebuilds the incremental models for the dates loaded since dbt last ran.
    """
    dates: set[str] = set()
    for key in raw_keys:
        cursor = None
        while True:
            page = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_timestamp=since),
                limit=1000,
                cursor=cursor,
            )
            dates.update(r.partition_key for r in page.records if r.partition_key)
            if not page.has_more:
                break
            cursor = page.cursor
    return sorted(dates)
