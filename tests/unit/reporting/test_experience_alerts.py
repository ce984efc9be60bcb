"""Experience-drop alerts: which changes alert, what they say, and that each is said once."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from reporting.experience_alerts import AlertTargets, send_experience_alerts, weekly_pack_link
from reporting.marts import ReportError
from reporting.periods import parse_week
from tests.unit.reporting.experience_marts import (
    WEEK,
    WEEK_LABEL,
    FakeWebhook,
    change,
    write_marts,
)

OLDER_WEEK = parse_week("2026-W19").start
PARTIAL_WEEK = parse_week("2026-W21").start  # data through Sunday of W20: W21 is not complete


@pytest.fixture
def reporting_path(tmp_path: Path) -> Path:
    return tmp_path / "reporting" / "xmo_reporting.duckdb"


def targets(tmp_path: Path, webhook: str | None = None, reports_url: str | None = None):
    return AlertTargets(
        log_path=tmp_path / "alerts" / "experience.log",
        ledger_path=tmp_path / "alerts" / "experience_alerted.json",
        webhook=webhook,
        reports_dir=tmp_path / "reports",
        reports_url=reports_url,
    )


def log_lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "alerts" / "experience.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_only_significant_worse_changes_of_the_newest_complete_week_alert(tmp_path, reporting_path):
    write_marts(
        reporting_path,
        [
            change("SVC04"),  # the one drop
            change("SVC07", direction="better", value=80, reference_value=60),
            change("SVC09", significant=False, value=55, reference_value=60, q_value=0.4),
            change("SVC07", "avg_lost_time_minutes", week_start=OLDER_WEEK, value=30),
            change("SVC09", "avg_lost_time_minutes", week_start=PARTIAL_WEEK, value=30),
        ],
    )
    outcome = send_experience_alerts(reporting_path, targets(tmp_path))

    pack = (tmp_path / "reports" / "weekly" / f"xmo_weekly_{WEEK_LABEL}.html").as_uri()
    expected = (
        "Experience drop: Network and VPN (SVC04) happiness score +62 (55 … 69) → +31 (22 … 40)"
        f" vs previous 4 weeks, week 2026-W20 (q = 0.001): {pack}"
    )
    assert outcome.week.label == WEEK_LABEL
    assert outcome.sent == [expected]
    [line] = log_lines(tmp_path)
    stamp, text = line.split(" ", 1)
    assert stamp.startswith("20") and stamp.endswith("+00:00")  # UTC timestamp first
    assert text == expected


def test_lost_time_reads_in_minutes(tmp_path, reporting_path):
    write_marts(
        reporting_path,
        [change("SVC07", "avg_lost_time_minutes", value=31.5, reference_value=12, q_value=0.0004)],
    )
    [text] = send_experience_alerts(reporting_path, targets(tmp_path)).sent
    assert text.startswith(
        "Experience drop: Laptops (SVC07) avg lost time 12.0 min (5.0 … 19.0) → "
        "31.5 min (22.5 … 40.5) vs previous 4 weeks, week 2026-W20 (q < 0.001): "
    )


def test_worse_than_both_references_is_one_alert_headed_by_the_previous_4_weeks(
    tmp_path, reporting_path
):
    write_marts(
        reporting_path,
        [
            change(reference_kind="baseline", reference_value=58, q_value=0.004),
            change(reference_kind="previous_4_weeks", reference_value=62, q_value=0.001),
        ],
    )
    with FakeWebhook() as webhook:
        outcome = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))

    [text] = outcome.sent
    assert " +62 (55 … 69) → +31 (22 … 40) vs previous 4 weeks, week 2026-W20 " in text
    assert "(q = 0.001; also worse than baseline +58, q = 0.004): " in text
    assert len(log_lines(tmp_path)) == 1
    [body] = webhook.received
    assert [c["reference_kind"] for c in body["changes"]] == ["previous_4_weeks", "baseline"]


def test_a_second_run_sends_nothing_and_the_log_keeps_one_line_per_alert(tmp_path, reporting_path):
    write_marts(reporting_path, [change("SVC04"), change("SVC07", "avg_lost_time_minutes")])
    with FakeWebhook() as webhook:
        first = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))
        second = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))

    assert len(first.sent) == 2 and first.posted == 2
    assert (second.sent, second.posted, second.problems) == ([], 0, [])
    assert len(webhook.received) == 2
    assert len(log_lines(tmp_path)) == 2
    # The webhook gets the line's text and the figures behind it.
    body = webhook.received[0]
    assert body["text"] == first.sent[0]
    assert (body["service_id"], body["week"], body["week_start"], body["indicator"]) == (
        "SVC04",
        WEEK_LABEL,
        WEEK.isoformat(),
        "happiness_score",
    )
    assert body["changes"][0]["q_value"] == 0.001
    ledger = json.loads((tmp_path / "alerts" / "experience_alerted.json").read_text())
    assert {(e["service_id"], e["week_start"], e["indicator"]) for e in ledger["alerts"]} == {
        ("SVC04", "2026-05-11", "happiness_score"),
        ("SVC07", "2026-05-11", "avg_lost_time_minutes"),
    }
    assert not list((tmp_path / "alerts").glob("*.partial"))


def test_a_failed_webhook_is_reported_keeps_the_line_and_is_retried_once_it_answers(
    tmp_path, reporting_path
):
    write_marts(reporting_path, [change("SVC04")])
    with FakeWebhook(status=500) as webhook:
        failed = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))
        assert failed.problems == ["SVC04 2026-05-11 happiness_score: webhook answered HTTP 500"]
        assert len(failed.sent) == 1 and failed.posted == 0
        assert len(log_lines(tmp_path)) == 1

        webhook.status = 200
        retried = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))
        again = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))

    assert (retried.sent, retried.posted, retried.problems) == ([], 1, [])
    assert (again.sent, again.posted) == ([], 0)
    assert [body["text"] for body in webhook.received] == failed.sent * 2  # failed, then retried
    assert len(log_lines(tmp_path)) == 1  # never written again


def test_an_unreachable_webhook_is_a_problem_not_an_error(tmp_path, reporting_path):
    write_marts(reporting_path, [change("SVC04")])
    closed = "http://127.0.0.1:9/"  # discard port: nothing listens
    outcome = send_experience_alerts(reporting_path, targets(tmp_path, closed))
    [problem] = outcome.problems
    assert problem.startswith("SVC04 2026-05-11 happiness_score: webhook not reached")
    assert len(log_lines(tmp_path)) == 1


def test_a_drop_raised_without_a_webhook_is_not_posted_when_one_is_set_later(
    tmp_path, reporting_path
):
    write_marts(reporting_path, [change("SVC04")])
    assert len(send_experience_alerts(reporting_path, targets(tmp_path)).sent) == 1
    with FakeWebhook() as webhook:
        later = send_experience_alerts(reporting_path, targets(tmp_path, webhook.url))
    assert (later.sent, later.posted, webhook.received) == ([], 0, [])


def test_the_link_points_at_the_served_reports_when_their_url_is_set(tmp_path):
    week = parse_week(WEEK_LABEL)
    served = weekly_pack_link(week, tmp_path / "reports", "https://xmo.example.org/reports/")
    assert served == "https://xmo.example.org/reports/weekly/xmo_weekly_2026-W20.html"
    on_disk = weekly_pack_link(week, tmp_path / "reports", None)
    assert on_disk == (tmp_path / "reports/weekly/xmo_weekly_2026-W20.html").as_uri()


def test_an_unreadable_ledger_stops_the_alerts_instead_of_repeating_them(tmp_path, reporting_path):
    write_marts(reporting_path, [change("SVC04")])
    ledger = tmp_path / "alerts" / "experience_alerted.json"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("{not json")
    with pytest.raises(ReportError, match=r"experience_alerted\.json is unreadable"):
        send_experience_alerts(reporting_path, targets(tmp_path))
    assert log_lines(tmp_path) == []


def test_a_published_database_without_the_changes_mart_says_so(tmp_path, reporting_path):
    write_marts(reporting_path, [])
    con = duckdb.connect(str(reporting_path))
    con.execute("DROP TABLE marts.experience_changes")
    con.close()
    with pytest.raises(ReportError, match=r"cannot read marts\.experience_changes"):
        send_experience_alerts(reporting_path, targets(tmp_path))
