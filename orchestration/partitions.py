"""Daily partitions by extract date (the landing folder's date), in UTC."""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone="UTC"
    )
