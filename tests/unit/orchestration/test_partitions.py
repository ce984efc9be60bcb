"""The partition window of a run reaches dbt as vars."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from orchestration.partitions import extract_dates_loaded_since, extract_window_vars


def test_a_range_run_gives_its_first_and_last_extract_date():
    tags = {
        "dagster/asset_partition_range_start": "2026-03-01",
        "dagster/asset_partition_range_end": "2026-03-31",
    }
    assert extract_window_vars(tags) == {
        "extract_date_from": "2026-03-01",
        "extract_date_to": "2026-03-31",
    }


def test_a_single_partition_run_gives_that_day():
    assert extract_window_vars({"dagster/partition": "2026-03-05"}) == {
        "extract_date_from": "2026-03-05",
        "extract_date_to": "2026-03-05",
    }


def test_a_run_without_partitions_gives_no_window():
    assert extract_window_vars({"dagster/run_key": "x"}) == {}


def test_a_key_that_is_not_a_date_is_refused():
    with pytest.raises(ValueError):
        extract_window_vars({"dagster/partition": "2026-03-05'; drop table x"})


def test_a_run_without_partitions_rebuilds_the_dates_loaded_since_dbt_last_ran():
    raw = [dg.AssetKey(["raw", "itsm_tickets"]), dg.AssetKey(["raw", "survey_responses"])]
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(raw[0], partition="2026-01-01"))
        since = time.time()
        time.sleep(0.01)
        for key, day in [(raw[0], "2026-02-03"), (raw[1], "2026-02-01"), (raw[1], "2026-02-03")]:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=day))
        # A UI backfill of Feb 1-3 followed by its unpartitioned dbt step: only what it loaded.
        assert extract_dates_loaded_since(instance, raw, since) == ["2026-02-01", "2026-02-03"]
        assert extract_dates_loaded_since(instance, raw, time.time()) == []
        assert extract_dates_loaded_since(instance, raw, None)[0] == "2026-01-01"
