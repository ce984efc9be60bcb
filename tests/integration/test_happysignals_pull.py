"""`xmo pull happysignals` fills landing from the API, and the pipeline publishes those answers.

A small synthetic organisation supplies everything; its survey files of the last ten days are
taken away and served instead by the HappySignals stand-in, in the API's assumed field names.
The pull lands them, the daily run loads them through the default survey mapping, and staging
and the published fact hold exactly the pulled responses for those days.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.cli import execute_pipeline, main, summarize
from orchestration.settings import PROJECT_SEEDS_DIR, Settings
from tests.fakes.happysignals import FakeHappySignals
from tests.integration.warehouse import query

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(employees=300, days=21, start=date(2026, 5, 4), seed=13)
PULLED_DAYS = [CONFIG.start + timedelta(days=CONFIG.days - n) for n in range(10, 0, -1)]


def as_api_item(row: dict[str, str]) -> dict:
    """A contract-shaped survey row as HappySignals' API is assumed to send it."""
    return {
        "id": row["response_id"],
        "type": row["survey_type"],
        "ticket": row["ticket_number"] or None,
        "topic": row["topic"] or None,
        "created_at": row["responded_at"],
        "updated_at": row["responded_at"],
        "user_id": row["respondent_id"],
        "rating": int(row["happiness"]),
        "lost_time": int(row["lost_time_minutes"]) if row["lost_time_minutes"] else None,
        "factors": row["factors"].split(";") if row["factors"] else [],
        "comment": row["comment"] or None,
        "language": row["language"],
    }


def test_pulled_responses_are_loaded_staged_and_published(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("XMO_DATA_DIR", str(data_dir))
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)

    items, expected = [], {}
    for day in PULLED_DAYS:
        path = settings.landing_dir / "survey" / day.isoformat() / "responses.csv"
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        path.unlink()  # from now on these days' answers exist only in the API
        items += [as_api_item(row) for row in rows]
        if rows:  # a day without answers is a header-only file: the API has nothing to land
            expected[day.isoformat()] = sorted(row["response_id"] for row in rows)
    assert sum(map(len, expected.values())) >= 10

    with FakeHappySignals(items, page_size=5) as fake:
        monkeypatch.setenv("XMO_HAPPYSIGNALS_URL", fake.url)
        monkeypatch.setenv("XMO_HAPPYSIGNALS_TOKEN", fake.token)
        assert main(["pull", "happysignals"]) == 0
    out = capsys.readouterr().out
    assert f"Landing files written: {len(expected)}" in out
    assert len(fake.requests) == -(-len(items) // 5)  # every page, once

    dates = [CONFIG.start + timedelta(days=n) for n in range(CONFIG.days)]
    result = execute_pipeline(settings, dates)
    summary = summarize(result)
    assert result.success, summary.step_failures
    assert summary.published and summary.checks_failed == []
    assert summary.quarantined == 0

    staged = query(
        settings.warehouse_path,
        "SELECT extract_date::VARCHAR, response_id FROM staging.stg_survey__responses "
        f"WHERE extract_date >= '{PULLED_DAYS[0]}' ORDER BY 1, 2",
    )
    by_day: dict[str, list[str]] = {}
    for day, response_id in staged:
        by_day.setdefault(day, []).append(response_id)
    assert by_day == expected
    sources = query(
        settings.warehouse_path,
        "SELECT DISTINCT regexp_extract(_source_file, '[^/]+$') FROM raw.survey_responses "
        f"WHERE _extract_date >= '{PULLED_DAYS[0]}'",
    )
    assert sources == [("happysignals.csv",)]

    # The published fact carries the pulled ratings of the tickets they answer.
    pulled = {i["ticket"]: i["rating"] for i in items if i["type"] == "ticket"}
    published = dict(
        query(
            settings.reporting_path,
            "SELECT ticket_number, happiness FROM marts.fct_ticket_experience "
            "WHERE happiness IS NOT NULL",
        )
    )
    answered = {t: r for t, r in pulled.items() if t in published}
    assert answered and all(published[t] == r for t, r in answered.items())
