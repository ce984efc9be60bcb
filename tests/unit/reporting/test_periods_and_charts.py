"""Report periods and the inline charts: the parts of a pack that do not need data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from reporting.charts import bars, columns, trend
from reporting.html import Figure, delta, interval, low_sample, number, plus_minus
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


def test_a_whisker_spans_its_interval_on_the_charts_scale():
    # The fixed scale is 0…60; the interval of the second week reaches 80, beyond it.
    svg = ET.fromstring(
        trend(
            [0.0, 50.0, None], ["w1", "w2", "w3"], low=0, high=60, intervals=[None, (40, 80), None]
        )
    )
    dots = [c for c in svg.iter("circle") if c.get("class") == "dot"]
    [whisker] = [g for g in svg.iter("g") if g.get("class") == "ci"]
    stem, *caps = whisker.iter("line")

    # The value a y coordinate stands for, from where the dots of 0 and 50 are drawn.
    y0, y50 = (float(dot.get("cy")) for dot in dots)

    def value(y: str) -> float:
        return round((float(y) - y0) / (y50 - y0) * 50, 6)

    assert stem.get("x1") == stem.get("x2") == dots[1].get("cx")
    assert (value(stem.get("y1")), value(stem.get("y2"))) == (40, 80)  # whole, not cut at 60
    assert sorted(value(cap.get("y1")) for cap in caps) == [40, 80]
    assert all(cap.get("y1") == cap.get("y2") for cap in caps)


def test_bars_are_scaled_to_the_largest_value_and_labelled():
    svg = bars([("SVC03", 20.0), ("SVC01", 5.0)], " h")
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths == [360.0, 90.0]
    assert "20.0 h" in svg and "SVC01" in svg


def test_columns_rise_from_one_base_so_heights_compare_as_ratios_and_none_draws_no_bar():
    svg = ET.fromstring(columns([("poor", 60.0), ("fair", None), ("good", 20.0)], " t"))
    rects = list(svg.iter("rect"))
    assert [r.findtext("title") for r in rects] == ["poor: 60.0 t", "good: 20.0 t"]
    heights = [float(r.get("height")) for r in rects]
    assert heights[0] / heights[1] == pytest.approx(3)
    assert len({float(r.get("y")) + float(r.get("height")) for r in rects}) == 1
    [gap] = [t for t in svg.iter("text") if t.get("class") == "gap"]
    assert gap.findtext("title") == "fair: no figure (low sample)"
    assert columns([]) == ""


def test_cells_show_low_samples_and_missing_values_as_such_never_as_zero():
    assert low_sample(3) == Figure("low sample (n=3)", "low")
    assert number(float("nan")) == "–" and number(None) == "–"
    assert number(12.345, signed=True) == "+12.3"
    assert delta(5.0, higher_is_better=False) == Figure("+5.0", "down")
    assert delta(-5.0, higher_is_better=False) == Figure("-5.0", "up")
    assert delta(3.0, higher_is_better=None) == Figure("+3.0", "")


def test_a_figure_reads_with_its_interval_and_a_detectable_change_with_its_unit():
    assert interval(48.04, 41.2, 54.8, signed=True) == "+48.0 (41.2 … 54.8)"
    assert interval(48.0, None, 54.8, signed=True) == "+48.0"  # half an interval is none
    assert interval(None, 41.2, 54.8) == "–"
    assert plus_minus(12.4, " pts") == "±12 pts" and plus_minus(None, " pts") == "–"


def test_chart_text_is_escaped_before_the_packs_mark_the_svg_safe():
    svg = trend([1.0], ["<b>W1</b>"], intervals=[(0.0, 2.0)]) + bars([("<i>SVC</i>", 1.0)])
    svg += columns([("<u>poor</u>", 1.0), ("<u>fair</u>", None)])
    assert "<b>" not in svg and "<i>" not in svg and "<u>" not in svg
    assert "&lt;b&gt;W1&lt;/b&gt;: 95 % interval 0.0 … 2.0" in svg and "&lt;i&gt;SVC" in svg
