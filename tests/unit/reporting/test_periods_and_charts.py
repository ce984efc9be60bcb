"""Report periods and the inline charts: the parts of a pack that do not need data."""

from __future__ import annotations

import re
from datetime import date

import pytest

from reporting.charts import bars, trend
from reporting.html import delta, low_sample, number
from reporting.periods import (
    PeriodError,
    last_complete_month,
    last_complete_week,
    parse_month,
    parse_week,
)


@pytest.mark.parametrize(
    ("data_through", "week"),
    [
        (date(2026, 11, 22), "2026-W47"),  # a Sunday: its own week is complete
        (date(2026, 11, 25), "2026-W47"),  # a Wednesday: the week before
        (date(2026, 11, 23), "2026-W47"),  # a Monday: the week before
        (date(2027, 1, 3), "2026-W53"),  # ISO years have 52 or 53 weeks
    ],
)
def test_the_default_week_is_the_last_one_the_data_covers_completely(data_through, week):
    assert last_complete_week(data_through).label == week


def test_the_default_month_is_the_last_one_the_data_covers_completely():
    assert last_complete_month(date(2026, 3, 31)).label == "2026-03"
    assert last_complete_month(date(2026, 3, 30)).label == "2026-02"
    assert parse_month("2024-02").end == date(2024, 2, 29)


def test_periods_go_back_across_year_ends():
    assert parse_week("2026-W02").previous(3).label == "2025-W51"
    assert parse_month("2026-01").previous().label == "2025-12"


@pytest.mark.parametrize("text", ["2026-47", "2026-W60", "W47", ""])
def test_a_malformed_week_says_the_format(text):
    with pytest.raises(PeriodError, match="ISO week"):
        parse_week(text)


@pytest.mark.parametrize("text", ["2026-13", "2026-3", "March"])
def test_a_malformed_month_says_the_format(text):
    with pytest.raises(PeriodError, match="YYYY-MM"):
        parse_month(text)


def test_a_trend_leaves_a_gap_for_a_low_sample_week_instead_of_plotting_zero():
    svg = trend([10.0, 20.0, None, 40.0, 50.0], ["w1", "w2", "w3", "w4", "w5"], reference=30)
    assert svg.count("<polyline") == 2  # two segments around the gap
    assert "w3: no figure (low sample)" in svg
    assert "w4: 40.0" in svg and "target 30" in svg
    assert trend([], []) == ""


def test_bars_are_scaled_to_the_largest_value_and_labelled():
    svg = bars([("SVC03", 20.0), ("SVC01", 5.0)], " h")
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths == [360.0, 90.0]
    assert "20.0 h" in svg and "SVC01" in svg


def test_cells_show_low_samples_and_missing_values_as_such_never_as_zero():
    assert low_sample(3) == '<span class="low">low sample (n=3)</span>'
    assert number(float("nan")) == "–" and number(None) == "–"
    assert number(12.345, signed=True) == "+12.3"
    assert 'class="down"' in delta(5.0, higher_is_better=False)
    assert 'class="up"' in delta(-5.0, higher_is_better=False)
    assert 'class=""' in delta(3.0, higher_is_better=None)
