"""The packs over a hand-written reporting database: what each section shows and how it reads."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

from reporting.html import render
from reporting.marts import PublishedMarts
from reporting.monthly import build_monthly
from reporting.periods import parse_month, parse_week
from reporting.weekly import build_weekly
from tests.unit.reporting.pack_html import section_rows, service_id, trends
from tests.unit.reporting.published_marts import (
    HOSTILE_NAME,
    sample_organisation,
    write_reporting_db,
)

WEEK, MONTH = parse_week("2026-W17"), parse_month("2026-04")


@pytest.fixture
def reporting_path(tmp_path: Path) -> Path:
    return write_reporting_db(tmp_path / "xmo_reporting.duckdb", sample_organisation())


def weekly_html(path: Path) -> str:
    with PublishedMarts(path) as marts:
        return build_weekly(marts, WEEK).html


def monthly_html(path: Path) -> str:
    with PublishedMarts(path) as marts:
        return build_monthly(marts, MONTH).html


def test_a_service_name_with_markup_reaches_both_packs_as_text(reporting_path):
    for html in (weekly_html(reporting_path), monthly_html(reporting_path)):
        assert html.startswith("<!DOCTYPE html>")
        assert "&lt;script&gt;alert(" in html
        # Self-contained, and the name's script is not a script.
        assert not re.search(r"<script|<link|src=|url\(|https?://", html)
    weekly = section_rows(weekly_html(reporting_path), "Services in XM scope")
    assert weekly[0][0].text == f"{HOSTILE_NAME}SVC01"  # the name reads as it was written


def test_the_trend_draws_a_whisker_for_each_week_with_an_interval_and_none_without(
    reporting_path,
):
    html = weekly_html(reporting_path)
    charts = trends(html)
    whiskers = {
        service: [g.findtext("title") for g in svg.iter("g") if g.get("class") == "ci"]
        for service, svg in charts.items()
    }
    # SVC01 had too few answers 6 weeks ago (2026-W11): no score, so no interval, no whisker.
    assert len(whiskers["SVC01"]) == 11
    assert not any(title.startswith("2026-W11") for title in whiskers["SVC01"])
    assert "2026-W17: 95 % interval 42.0 … 56.0" in whiskers["SVC01"]
    # SVC02: low sample in the last two weeks.
    assert [t[:8] for t in whiskers["SVC02"]] == [f"2026-W{w:02d}" for w in range(6, 16)]
    assert len(whiskers["SVC03"]) == 12
    assert "(bars: 95 % interval)" in html


def test_significant_changes_come_first_then_the_others_within_their_noise(reporting_path):
    rows = section_rows(weekly_html(reporting_path), "What changed in 2026-W17")
    assert [(service_id(r[0]), r[1].text, r[2].text, r[7].text) for r in rows] == [
        # Significant, the most certain first (q = 0.0001, then 0.002).
        ("SVC03", "Lost time / answer", "vs baseline", "better"),
        ("SVC01", "Happiness", "vs previous 4 weeks", "worse"),
        # Within noise: ± the minimum detectable change, in points or in minutes.
        ("SVC01", "Happiness", "vs baseline", "within noise (±7 pts)"),
        ("SVC01", "Lost time / answer", "vs previous 4 weeks", "within noise (±3 min)"),
        ("SVC03", "Happiness", "vs previous 4 weeks", "within noise (±45 pts)"),
        ("SVC03", "Lost time / answer", "vs previous 4 weeks", "within noise (±0 min)"),
    ]
    # From the reference to this week, both with their intervals; better green, worse red.
    assert [(r[4].text, r[5].text, r[6].text) for r in rows[:2]] == [
        ("15 min (8 … 22)", "5 min (-4 … 14)", "-10 min"),
        ("+63.0 (56.0 … 70.0)", "+49.0 (40.0 … 58.0)", "-14.0"),
    ]
    assert [(r[6].classes, r[7].classes) for r in rows[:2]] == [({"up"},) * 2, ({"down"},) * 2]
    assert all((r[6].classes, r[7].classes) == (set(), {"low"}) for r in rows[2:])


def test_a_week_without_comparisons_says_so(reporting_path):
    con = duckdb.connect(str(reporting_path))
    con.execute("DELETE FROM marts.experience_changes")
    con.close()
    html = weekly_html(reporting_path)
    assert section_rows(html, "What changed") == []
    assert "No service in scope has enough answers on both sides" in html
    assert [row[10].text for row in section_rows(html, "Services in XM scope")] == ["–"] * 3


def test_each_service_row_shows_its_detectable_change_next_to_the_response_rate(reporting_path):
    html = weekly_html(reporting_path)
    assert re.search(r"<th>Response rate</th><th>Detectable change</th>", html)
    rows = {service_id(row[0]): row for row in section_rows(html, "Services in XM scope")}
    shown = {service: (row[9].text, row[10].text) for service, row in rows.items()}
    # Happiness against the previous 4 weeks (SVC01's baseline comparison detects ±7, not shown);
    # SVC02 had too few answers to compare; SVC03's few answers cost it: only ±45 shows.
    assert shown == {
        "SVC01": ("50 %", "±9 pts"),
        "SVC02": ("4 %", "–"),
        "SVC03": ("8 %", "±45 pts"),
    }


def test_the_monthly_pack_shows_happiness_with_its_interval(reporting_path):
    html = monthly_html(reporting_path)
    scorecard = {service_id(row[0]): [c.text for c in row[1:]] for row in section_rows(html, "XLA")}
    assert scorecard == {
        "SVC01": ["+47.0 (41.2 … 52.8)", "12 min", "95 %"],  # only happiness has one
        "SVC02": ["low sample", "–", "–"],
        "SVC03": ["+52.0", "–", "–"],  # no interval published for it: the score alone
    }
    [svc01] = [
        row
        for row in section_rows(html, "Month over month")
        if service_id(row[0]) == "SVC01" and row[1].text == "Happiness"
    ]
    assert (svc01[2].text, svc01[3].text) == ("+47.0 (41.2 … 52.8)", "+55.0 (49.5 … 60.5)")


def test_a_template_naming_a_figure_that_was_not_computed_fails_instead_of_printing_nothing():
    with pytest.raises(jinja2.UndefinedError, match="services_in_scope"):
        render("monthly.html", month=MONTH)
