"""The session packs and the BI queries, over marts published by a real pipeline run.

A synthetic organisation over 17 weeks: the pilot services join the XM scope on 2026-03-30 and
the second cohort on 2026-04-27, so the last complete week (2026-W17) and month (April 2026)
have services in scope, a cohort that is new, scored cells and low-sample cells.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.cli import EXIT_OK, EXIT_USAGE, execute_pipeline, main, summarize
from orchestration.settings import PROJECT_ROOT, PROJECT_SEEDS_DIR, Settings
from reporting.html import interval, number, percent, plus_minus
from tests.integration.warehouse import query
from tests.unit.reporting.pack_html import paragraphs, section_rows, service_id, trends

pytestmark = pytest.mark.integration

# A high response rate, so that some service-weeks are scored and others stay low-sample.
SYNTHETIC = GeneratorConfig(
    employees=600, days=117, start=date(2026, 1, 5), seed=3, response_rate=0.4
)
WEEK, WEEK_START = "2026-W17", date(2026, 4, 20)
MONTH, MONTH_START = "2026-04", date(2026, 4, 1)
BI_CLIENT = PROJECT_ROOT / ".venv-duckdb15" / "bin" / "python"  # made by `make bi-client`


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("packs") / "data"
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, SYNTHETIC)
    first, last = SYNTHETIC.timeline()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    summary = summarize(execute_pipeline(settings, days))
    assert summary.published, summary.step_failures + summary.checks_failed
    return settings, summary


def pack_html(settings: Settings, kind: str) -> str:
    period = WEEK if kind == "weekly" else MONTH
    return (settings.reports_dir / kind / f"xmo_{kind}_{period}.html").read_text()


def service_rows(html: str) -> dict[str, str]:
    """The rows of the first table (services in scope), by service id."""
    first_table = html.split("</table>")[0]
    return {
        match[1]: match[0]
        for match in re.finditer(
            r"<tr>(?:(?!</tr>).)*?<small>(SVC\d+)</small>.*?</tr>", first_table, re.S
        )
    }


def test_the_run_writes_both_packs_for_the_last_complete_periods(published):
    _, summary = published
    assert sorted(Path(p).name for p in summary.packs) == [
        f"xmo_monthly_{MONTH}.html",
        f"xmo_weekly_{WEEK}.html",
    ]
    for pack in summary.packs:
        html = Path(pack).read_text()
        assert html.startswith("<!DOCTYPE html>")
        # Self-contained: no script, stylesheet, image or font fetched from anywhere.
        assert not re.search(r"<script|<link|src=|url\(|https?://", html)


def test_the_weekly_pack_shows_each_services_numbers_from_the_marts(published):
    settings, _ = published
    html = pack_html(settings, "weekly")
    rows = service_rows(html)
    expected = query(
        settings.reporting_path,
        "SELECT w.service_id, w.happiness_score, w.avg_lost_time_minutes, w.response_rate, "
        "w.responses, w.low_sample, b.baseline_value "
        "FROM marts.service_experience_weekly w JOIN marts.dim_service s USING (service_id) "
        "LEFT JOIN marts.xla_baseline b ON b.service_id = w.service_id "
        "AND b.indicator = 'happiness_score' "
        "WHERE w.week_start = ? AND s.xm_scope_start <= ?",
        [WEEK_START, WEEK_START + timedelta(days=6)],
    )
    assert {service for service, *_ in expected} == set(rows)
    kinds = set()
    for service, happiness, lost, rate, responses, low, baseline in expected:
        row = rows[service]
        assert percent(rate) in row, service
        assert number(baseline, signed=True) in row, service
        if low:
            # A low-sample cell says so, with its count, and never shows a score or a zero.
            assert f"low sample (n={responses})" in row, service
            kinds.add("low")
        else:
            assert number(happiness, signed=True) in row, service
            assert number(lost, 0, " min") in row, service
            kinds.add("scored")
    assert kinds == {"low", "scored"}, "the test data must hold both kinds of cell"


def test_each_weekly_service_row_shows_its_detectable_change_and_its_weeks_intervals(published):
    settings, _ = published
    html = pack_html(settings, "weekly")
    detectable = dict(
        query(
            settings.reporting_path,
            "SELECT service_id, minimum_detectable_change FROM marts.experience_changes "
            "WHERE week_start = ? AND indicator = 'happiness_score' "
            "AND reference_kind = 'previous_4_weeks'",
            [WEEK_START],
        )
    )
    assert detectable, "the test data must hold comparisons for the week"
    rows = {service_id(row[0]): row for row in section_rows(html, "Services in XM scope")}
    for service, row in rows.items():
        # The column after the response rate; a service without a comparison shows none.
        assert row[10].text == plus_minus(detectable.get(service), " pts"), service
    scored_weeks = dict(
        query(
            settings.reporting_path,
            "SELECT service_id, count(happiness_ci_low) FROM marts.service_experience_weekly "
            "WHERE week_start BETWEEN ? AND ? GROUP BY service_id",
            [WEEK_START - timedelta(weeks=11), WEEK_START],
        )
    )
    charts = trends(html)
    assert set(charts) == set(rows)
    for service, svg in charts.items():
        whiskers = [g for g in svg.iter("g") if g.get("class") == "ci"]
        assert len(whiskers) == scored_weeks.get(service, 0), service


def test_what_changed_lists_the_weeks_comparisons_significant_first(published):
    settings, _ = published
    expected = query(
        settings.reporting_path,
        "SELECT c.indicator, c.is_significant, c.minimum_detectable_change "
        "FROM marts.experience_changes c JOIN marts.dim_service s USING (service_id) "
        "WHERE c.week_start = ? AND s.xm_scope_start <= ?",
        [WEEK_START, WEEK_START + timedelta(days=6)],
    )
    rows = section_rows(pack_html(settings, "weekly"), f"What changed in {WEEK}")
    assert len(rows) == len(expected) > 0
    significant = sum(is_significant for _, is_significant, _ in expected)
    judgements = [row[7].text for row in rows]
    assert all(j in ("better", "worse") for j in judgements[:significant]), judgements
    unit = {"happiness_score": " pts", "avg_lost_time_minutes": " min"}
    assert sorted(judgements[significant:]) == sorted(
        f"within noise ({plus_minus(mdc, unit[indicator])})"
        for indicator, is_significant, mdc in expected
        if not is_significant
    )


def test_the_weekly_pack_ranks_devices_worst_first_with_the_marts_dex(published):
    settings, _ = published
    html = pack_html(settings, "weekly")
    by_model = query(
        settings.reporting_path,
        "SELECT model, sum(dex_score * device_days) / sum(device_days) AS dex "
        "FROM marts.device_experience_weekly WHERE week_start = ? AND dex_score IS NOT NULL "
        "GROUP BY model ORDER BY dex",
        [WEEK_START],
    )
    device_html = html.split("DEX by model")[1].split("DEX by department")[0]
    shown = re.findall(
        r"<tr><td class=\"text\">([^<]+)</td><td[^>]*>\d+</td><td[^>]*>([^<]+)<", device_html
    )
    assert [(model, number(dex)) for model, dex in by_model] == shown


def test_the_monthly_scorecard_colours_every_status_of_the_marts(published):
    settings, _ = published
    html = pack_html(settings, "monthly")
    scorecard = html.split("XLA scorecard</h2>")[1].split("</table>")[0]
    statuses = query(
        settings.reporting_path,
        "SELECT status, count(*) FROM marts.xla_scorecard WHERE month_start = ? AND in_scope "
        "GROUP BY status",
        [MONTH_START],
    )
    assert statuses
    for status, count in statuses:
        assert scorecard.count(f'class="badge {status}"') == count, status


def test_the_monthly_scorecard_shows_happiness_with_its_interval(published):
    settings, _ = published
    expected = query(
        settings.reporting_path,
        "SELECT m.service_id, m.happiness_score, m.happiness_ci_low, m.happiness_ci_high "
        "FROM marts.service_experience_monthly m JOIN marts.xla_scorecard c "
        "ON c.service_id = m.service_id AND c.month_start = m.month_start "
        "AND c.indicator = 'happiness_score' "
        "WHERE m.month_start = ? AND c.in_scope AND NOT m.low_sample",
        [MONTH_START],
    )
    assert expected
    # Happiness is the scorecard's first indicator.
    shown = {
        service_id(row[0]): row[1].text
        for row in section_rows(pack_html(settings, "monthly"), "XLA scorecard")
    }
    for service, score, low, high in expected:
        assert shown[service] == interval(score, low, high, signed=True), service
        assert "…" in shown[service], "a scored month has an interval"


def test_the_monthly_pack_compares_newly_scoped_services_with_their_baseline(published):
    settings, _ = published
    html = pack_html(settings, "monthly")
    joined = query(
        settings.reporting_path,
        "SELECT service_id FROM marts.dim_service WHERE xm_scope_start BETWEEN ? AND ? ORDER BY 1",
        [MONTH_START, date(2026, 4, 30)],
    )
    assert joined, "the second cohort joins in April"
    section = html.split("Services newly in scope")[1].split("<h2>")[0]
    for (service,) in joined:
        first_month = query(
            settings.reporting_path,
            "SELECT baseline_value FROM marts.xla_scorecard WHERE service_id = ? "
            "AND month_start = ? AND indicator = 'happiness_score'",
            [service, MONTH_START],
        )[0][0]
        assert f"<small>{service}</small>" in section
        assert number(first_month, signed=True) in section


def test_no_employee_id_or_survey_comment_appears_in_any_pack(published):
    settings, _ = published
    employees, comments = set(), set()
    for path in (settings.landing_dir / "directory").rglob("*.csv"):
        with path.open() as handle:
            employees |= {row["employee_id"] for row in csv.DictReader(handle)}
    for path in (settings.landing_dir / "survey").rglob("*.csv"):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                employees.add(row["respondent_id"])
                if row["comment"]:
                    comments.add(row["comment"])
    caller_keys = {
        key
        for (key,) in query(
            settings.reporting_path, "SELECT caller_key FROM marts.fct_ticket_experience"
        )
    }
    assert employees and comments and caller_keys
    for pack in (settings.reports_dir).rglob("*.html"):
        html = pack.read_text()
        found = [e for e in employees if re.search(rf"\b{e}\b", html)]
        found += [c for c in comments if c in html]
        found += [k for k in caller_keys if k and k in html]
        assert found == [], f"{pack.name}: {found[:3]}"


def test_xmo_report_writes_the_pack_of_a_chosen_period(published, monkeypatch, capsys):
    settings, _ = published
    monkeypatch.setenv("XMO_DATA_DIR", str(settings.data_dir))
    assert main(["report", "weekly", "--week", "2026-W15"]) == EXIT_OK
    path = settings.reports_dir / "weekly" / "xmo_weekly_2026-W15.html"
    assert str(path) in capsys.readouterr().out
    assert "week 2026-W15 (06 Apr – 12 Apr 2026)" in path.read_text()
    assert main(["report", "monthly", "--month", "2026-3"]) == EXIT_USAGE
    assert "not a month (YYYY-MM" in capsys.readouterr().err


def test_both_packs_render_in_headless_chromium_without_the_network(published, tmp_path):
    from playwright.sync_api import sync_playwright

    settings, _ = published
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make browser installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            for kind, period in (("weekly", WEEK), ("monthly", MONTH)):
                pack = settings.reports_dir / kind / f"xmo_{kind}_{period}.html"
                page.goto(pack.as_uri())
                assert page.title() == f"XMO {kind} session — {period}"
                assert page.locator("table").count() >= 4
                shot = tmp_path / f"{kind}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 20_000
            assert page.locator("svg.bars").count() == 0  # the monthly pack has none
            page.goto((settings.reports_dir / "weekly" / f"xmo_weekly_{WEEK}.html").as_uri())
            assert page.locator("svg.trend").count() == len(service_rows(page.content()))
            assert page.locator("svg.trend polyline").count() > 0
        finally:
            browser.close()
    assert [url for url in fetched if not url.startswith("file://")] == []


BI_SCRIPT = r"""
import json, re, sys, duckdb
queries = re.findall(r"```sql\n(.*?)```", open(sys.argv[2]).read(), re.S)
con = duckdb.connect(sys.argv[1], read_only=True)
results = []
for query in queries:
    cursor = con.execute(query)
    results.append({"columns": [d[0] for d in cursor.description], "rows": len(cursor.fetchall())})
try:
    con.execute("CREATE TABLE marts.scratch AS SELECT 1")
    writable = True
except duckdb.Error:
    writable = False
print(json.dumps({"version": duckdb.__version__, "results": results, "writable": writable}))
"""


@pytest.mark.parametrize("client", ["project", "duckdb-1.5"])
def test_every_query_in_the_bi_guide_runs_read_only_from_another_process(published, client):
    settings, _ = published
    python = sys.executable if client == "project" else str(BI_CLIENT)
    assert Path(python).exists(), "the DuckDB 1.5 client venv is made by `make bi-client`"
    answer = subprocess.run(
        [
            python,
            "-c",
            BI_SCRIPT,
            str(settings.reporting_path),
            str(PROJECT_ROOT / "docs" / "bi.md"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(answer.stdout)
    assert report["version"].startswith("1.5." if client == "duckdb-1.5" else "2.")
    assert not report["writable"]
    assert len(report["results"]) == 9
    assert all(result["rows"] > 0 for result in report["results"]), report["results"]
    assert report["results"][0]["columns"] == [
        "service_name",
        "week_start",
        "happiness_score",
        "happiness_ci_low",
        "happiness_ci_high",
        "responses",
        "low_sample",
    ]


def test_the_monthly_pack_ranks_first_the_model_whose_users_lost_the_most_hours(published):
    settings, _ = published
    ranked = query(
        settings.reporting_path,
        "SELECT model, lost_hours_per_100_employees FROM marts.device_ticket_experience_monthly "
        "WHERE month_start = ? AND department = 'all' AND NOT low_sample "
        "AND lost_hours_per_100_employees IS NOT NULL ORDER BY lost_hours_per_100_employees DESC",
        [MONTH_START],
    )
    assert len(ranked) >= 2, "the test data must hold models with lost time in April"
    rows = section_rows(pack_html(settings, "monthly"), "Devices behind the tickets")
    top = ranked[0][1]
    assert rows[0][0].text in {model for model, lost in ranked if lost == top}
    # The ranked models come first, the most lost hours per 100 employees first.
    assert [row[1].text for row in rows[: len(ranked)]] == [
        number(lost, 1, " h") for _, lost in ranked
    ]
    assert len(paragraphs(pack_html(settings, "monthly"), "comparison")) == 2


def test_the_weekly_device_section_opens_with_the_worst_model_of_its_table(published):
    settings, _ = published
    html = pack_html(settings, "weekly")
    [callout] = paragraphs(html, "callout")
    model, _, dex = (cell.text for cell in section_rows(html, "Device experience")[0])
    assert callout.startswith(f"The worst model this week: {model}, DEX {dex} over ")
    journey = query(
        settings.reporting_path,
        "SELECT tickets_per_100_employees, lost_hours_per_100_employees "
        "FROM marts.device_ticket_experience_monthly "
        "WHERE month_start = ? AND department = 'all' AND model = ? AND NOT low_sample",
        [MONTH_START, model],
    )
    if journey and journey[0][1] is not None:
        tickets, lost = journey[0]
        assert f"opened {number(tickets)} tickets and lost {number(lost)} hours" in callout
