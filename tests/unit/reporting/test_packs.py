"""The packs over a hand-written reporting database: what each section shows and how it reads."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import jinja2
import pytest

from reporting.html import render
from reporting.marts import PublishedMarts
from reporting.monthly import build_monthly
from reporting.periods import parse_month, parse_week
from reporting.weekly import build_weekly
from tests.unit.reporting.pack_html import paragraphs, section_rows, service_id, trends
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


def execute(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def test_the_monthly_pack_ranks_models_by_lost_hours_per_100_employees_organisation_wide(
    reporting_path,
):
    rows = section_rows(monthly_html(reporting_path), "Devices behind the tickets")
    # Not the Finance row of T14 (90 h) nor March's Surface Go (99 h): April, department 'all'.
    # EliteBook has figures but too few answers for lost time: after the ranked models.
    assert [row[0].text for row in rows] == [
        "Latitude 5420",
        "MacBook Air",
        "T14",
        "EliteBook",
        "Surface Go",
    ]
    # Lost hours, tickets per 100 employees, hardware tickets, DEX, employees.
    assert [cell.text for cell in rows[0][1:]] == ["55.0 h", "75.0", "10", "48.0", "40"]
    assert [cell.text for cell in rows[3][1:]] == ["low sample (n=3)", "37.5", "1", "66.0", "8"]


def test_a_model_with_too_few_employees_shows_low_sample_and_no_figure(reporting_path):
    html = monthly_html(reporting_path)
    [surface_go] = [
        row
        for row in section_rows(html, "Devices behind the tickets")
        if row[0].text == "Surface Go"
    ]
    # One cell across the figures: its 3 employees, not even a DEX should the mart carry one.
    assert [(cell.text, cell.classes) for cell in surface_go[1:]] == [("low sample (n=3)", {"low"})]
    section = html.split("Devices behind the tickets")[1].split("<h3>Poor and fair")[0]
    assert "35.0" not in section


def test_the_band_comparison_gives_each_ratio_with_its_95_percent_interval(reporting_path):
    sentences = paragraphs(monthly_html(reporting_path), "comparison")
    assert sentences[0] == (
        "Employees on poor devices opened 2.3× the tickets (95 % interval 1.9–2.8×) and lost "
        "1.8× the time (1.4–2.3×) of those on good ones."
    )


@pytest.mark.parametrize(
    ("change", "poor", "fair"),
    [
        pytest.param(
            None,
            None,
            "Too few employees on fair devices this month (n = 3) to compare.",
            id="fair band low sample",
        ),
        pytest.param(
            "UPDATE marts.dex_band_experience_monthly SET low_sample = true, employees = 4, "
            "tickets_ratio_vs_good = NULL, lost_time_ratio_vs_good = NULL WHERE dex_band = 'good'",
            "Too few employees on good devices this month (n = 4) to compare.",
            "Too few employees on fair devices this month (n = 3) to compare.",
            id="good band low sample",
        ),
        pytest.param(
            "UPDATE marts.dex_band_experience_monthly SET responses = 3, total_lost_hours = NULL, "
            "lost_time_ratio_vs_good = NULL, lost_time_ratio_ci_low = NULL, "
            "lost_time_ratio_ci_high = NULL WHERE dex_band = 'poor' AND department = 'all'",
            "Employees on poor devices opened 2.3× the tickets (95 % interval 1.9–2.8×) of those "
            "on good ones; too few answers about lost time to compare it (n = 3 on poor devices).",
            None,
            id="too few answers about lost time",
        ),
        pytest.param(
            "UPDATE marts.dex_band_experience_monthly SET total_lost_hours = 0, "
            "lost_time_ratio_vs_good = NULL WHERE department = 'all' AND dex_band <> 'fair'",
            "Employees on poor devices opened 2.3× the tickets (95 % interval 1.9–2.8×) of those "
            "on good ones; those on poor and good devices reported no lost time, so there is no "
            "ratio.",
            None,
            id="no lost time on either side",
        ),
        pytest.param(
            "DELETE FROM marts.dex_band_experience_monthly WHERE dex_band = 'fair'",
            None,
            "No employee was on fair devices this month, so there is nothing to compare.",
            id="no fair band",
        ),
    ],
)
def test_a_band_without_a_ratio_says_why_with_its_n(reporting_path, change, poor, fair):
    if change:
        execute(reporting_path, change)
    sentences = paragraphs(monthly_html(reporting_path), "comparison")
    assert len(sentences) == 2
    if poor:
        assert sentences[0] == poor
    if fair:
        assert sentences[1] == fair
    assert all("None" not in s and "nan" not in s for s in sentences)


def test_the_band_chart_draws_tickets_per_100_employees_and_no_bar_for_a_low_sample(
    reporting_path,
):
    html = monthly_html(reporting_path)
    svg = ET.fromstring(re.search(r'<svg class="columns".*?</svg>', html, re.S)[0])
    bars = {rect.findtext("title"): float(rect.get("height")) for rect in svg.iter("rect")}
    assert set(bars) == {"poor (n=50): 70.0", "good (n=200): 30.0"}  # fair: 3 employees
    assert bars["poor (n=50): 70.0"] / bars["good (n=200): 30.0"] == pytest.approx(70 / 30)


def test_the_weekly_device_section_opens_with_the_worst_model_and_its_journey(reporting_path):
    html = weekly_html(reporting_path)
    [callout] = paragraphs(html, "callout")
    # Surface Go has no score (only low-sample cells); Latitude 5420's is over its device-days,
    # as the table below ranks it: (46 × 56 + 52 × 12) / 68.
    assert callout == (
        "The worst model this week: Latitude 5420, DEX 47.1 over 14 devices; in April 2026 its "
        "users opened 75.0 tickets and lost 55.0 hours per 100 employees."
    )
    first = section_rows(html, "Device experience")[0]
    assert (first[0].text, first[2].text) == ("Latitude 5420", "47.1")


@pytest.mark.parametrize(
    ("change", "journey"),
    [
        pytest.param(
            "DELETE FROM marts.device_ticket_experience_monthly WHERE model = 'Latitude 5420'",
            "no journey figures yet",
            id="no row for the model",
        ),
        pytest.param(
            "UPDATE marts.device_ticket_experience_monthly SET employees = 4, low_sample = true "
            "WHERE model = 'Latitude 5420'",
            "too few of its users in April 2026 for journey figures (n=4)",
            id="low sample",
        ),
        pytest.param(
            "UPDATE marts.device_ticket_experience_monthly SET responses = 2, "
            "lost_hours_per_100_employees = NULL WHERE model = 'Latitude 5420'",
            "in April 2026 its users opened 75.0 tickets per 100 employees (too few answers for "
            "lost time, n=2)",
            id="too few answers",
        ),
    ],
)
def test_the_worst_model_callout_says_when_it_has_no_journey_figures(
    reporting_path, change, journey
):
    execute(reporting_path, change)
    [callout] = paragraphs(weekly_html(reporting_path), "callout")
    assert (
        callout == f"The worst model this week: Latitude 5420, DEX 47.1 over 14 devices; {journey}."
    )


def test_packs_published_before_the_journey_marts_say_they_need_a_newer_publish(reporting_path):
    execute(
        reporting_path,
        "DROP TABLE marts.device_ticket_experience_monthly",
        "DROP TABLE marts.dex_band_experience_monthly",
    )
    html = monthly_html(reporting_path)
    section = html.split("<h2>Devices behind the tickets</h2>")[1]
    assert section.count("This part needs a newer publish") == 2
    assert "device_ticket_experience_monthly" in section
    assert "dex_band_experience_monthly" in section
    assert section_rows(html, "Devices behind the tickets") == []
    assert paragraphs(html, "comparison") == []
    [callout] = paragraphs(weekly_html(reporting_path), "callout")
    assert callout.endswith("47.1 over 14 devices; its journey figures need a newer publish.")


def test_a_template_naming_a_figure_that_was_not_computed_fails_instead_of_printing_nothing():
    with pytest.raises(jinja2.UndefinedError, match="services_in_scope"):
        render("monthly.html", month=MONTH)


def test_a_section_whose_source_is_not_configured_is_one_line_and_no_chart(reporting_path):
    with PublishedMarts(reporting_path) as marts:
        tickets_only = build_weekly(marts, WEEK, ("itsm",)).html
        tickets_only_month = build_monthly(marts, MONTH, ("itsm",)).html
    lines = [p for p in paragraphs(tickets_only, "note") if p.startswith("Not configured:")]
    # Services, issues, watermelons, response rates and changes need answers; devices, DEX.
    assert len(lines) == 6
    assert lines[-2] == (
        "Not configured: this organisation delivers no device data (XMO_SOURCES / "
        "sources.yml), so there is no device experience to show."
    )
    assert "<svg" not in tickets_only and "<table" not in tickets_only
    # The monthly pack keeps its ticket indicators and says which it leaves out.
    assert "Not configured: this organisation delivers no device data" in tickets_only_month
    assert (
        "Not shown: Happiness, Lost time / answer — this organisation delivers no survey answers"
        in tickets_only_month
    )
    scorecard = tickets_only_month.split("<h2>XLA scorecard</h2>")[1].split("</section>")[0]
    assert "<th>SLA met</th>" in scorecard and "<th>Happiness</th>" not in scorecard
    assert "Models by lost hours" not in tickets_only_month
    with PublishedMarts(reporting_path) as marts:
        complete = build_monthly(marts, MONTH).html
    assert "Not configured" not in complete and "Not shown" not in complete


def test_a_week_with_many_unmapped_tickets_says_so_above_the_limit(tmp_path):
    week_tickets = [
        {"service_id": "unmapped" if i < 3 else "SVC01", "resolved_at": f"2026-04-2{i % 5} 10:00"}
        for i in range(20)
    ]
    rows = {**sample_organisation(), "fct_ticket_experience": week_tickets}
    path = write_reporting_db(tmp_path / "r.duckdb", rows)
    with PublishedMarts(path) as marts:
        warned = build_weekly(marts, WEEK, unmapped_share_max=0.10).html
        quiet = build_weekly(marts, WEEK, unmapped_share_max=0.20).html
    [line] = paragraphs(warned, "note warning")
    assert line.startswith(
        "15% of the 20 tickets resolved this week map to no service (unmapped, over 10%)"
    )
    assert 'class="note warning"' not in quiet
