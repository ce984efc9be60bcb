"""The partition window of a run reaches dbt as vars."""

from __future__ import annotations

import pytest

from orchestration.partitions import extract_window_vars


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
