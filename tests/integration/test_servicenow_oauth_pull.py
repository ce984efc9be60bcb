"""`xmo pull servicenow` with OAuth 2.0 fills landing from the instance, and the pipeline
publishes from those files.

A small synthetic organisation supplies everything; its ServiceNow extracts of the last week
are taken away and served instead by the Table API stand-in, which only accepts the bearer
tokens its /oauth_token.do issues. The pull lands each ticket's current version by the day it
was updated, and staging and the published fact hold exactly that state.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.cli import execute_pipeline, main, summarize
from orchestration.settings import PROJECT_SEEDS_DIR, Settings
from tests.fakes.servicenow import FakeServiceNow
from tests.integration.warehouse import query

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(employees=300, days=21, start=date(2026, 5, 4), seed=17)
PULLED_DAYS = [CONFIG.start + timedelta(days=CONFIG.days - n) for n in range(7, 0, -1)]


def test_an_oauth_pull_lands_the_current_tickets_and_the_run_publishes_them(
    tmp_path, monkeypatch, capsys
):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("XMO_DATA_DIR", str(data_dir))
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)

    versions: dict[str, list[dict]] = {}
    for day in PULLED_DAYS:
        for path in sorted((settings.landing_dir / "itsm" / day.isoformat()).glob("*.json")):
            for record in json.loads(path.read_text(encoding="utf-8"))["result"]:
                versions.setdefault(record["sys_class_name"], []).append(record)
            path.unlink()  # from now on these days' tickets exist only on the instance
    current = {
        r["number"]: r
        for table in versions.values()
        for r in sorted(table, key=lambda r: r["sys_updated_on"])
    }
    assert len(current) > 50

    with FakeServiceNow(versions, client_id="xmo-client") as fake:
        monkeypatch.setenv("XMO_SERVICENOW_URL", fake.url)
        monkeypatch.setenv("XMO_SERVICENOW_CLIENT_ID", "xmo-client")
        monkeypatch.setenv("XMO_SERVICENOW_CLIENT_SECRET", fake.client_secret)
        monkeypatch.delenv("XMO_SERVICENOW_USER", raising=False)
        monkeypatch.delenv("XMO_SERVICENOW_PASSWORD", raising=False)
        assert main(["pull", "servicenow", "--since", f"{PULLED_DAYS[0]} 00:00:00"]) == 0
    out = capsys.readouterr().out
    assert fake.client_secret not in out
    assert [form["grant_type"] for form in fake.token_requests] == ["client_credentials"]
    assert fake.refused == 0

    dates = [CONFIG.start + timedelta(days=n) for n in range(CONFIG.days)]
    result = execute_pipeline(settings, dates)
    summary = summarize(result)
    assert result.success, summary.step_failures
    assert summary.published and summary.checks_failed == []
    assert summary.quarantined == 0

    # The pulled days' raw rows are the pull's files, one current version per ticket.
    files = query(
        settings.warehouse_path,
        "SELECT DISTINCT regexp_extract(_source_file, '[^/]+$') FROM raw.itsm_tickets "
        f"WHERE _extract_date >= '{PULLED_DAYS[0]}' ORDER BY 1",
    )
    assert files == [("incident.json",), ("sc_req_item.json",)]
    staged = dict(
        query(
            settings.warehouse_path,
            "SELECT ticket_number, state FROM staging.stg_itsm__tickets "
            f"WHERE extract_date >= '{PULLED_DAYS[0]}'",
        )
    )
    assert staged == {number: r["state"] for number, r in current.items()}
    # Resolved: a resolution time (a request's closing time), unless the ticket ended without
    # being resolved (an incident Canceled, a request Closed Incomplete or Skipped).
    canceled = {
        number
        for number, r in current.items()
        if r["state"] in (("4", "7") if r["sys_class_name"] == "sc_req_item" else ("8",))
    }
    resolved = {
        number
        for number, r in current.items()
        if r.get("resolved_at") or (r["sys_class_name"] == "sc_req_item" and r.get("closed_at"))
    } - canceled
    published = {
        number
        for (number,) in query(
            settings.reporting_path, "SELECT ticket_number FROM marts.fct_ticket_experience"
        )
    }
    assert resolved and resolved <= published
    assert canceled and not canceled & published
