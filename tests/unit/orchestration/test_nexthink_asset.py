"""The Nexthink pull as a Dagster asset: what it reports, which days, when it may be retried."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from orchestration.assets.nexthink import NexthinkDayError, days_to_pull, nexthink_pull, yesterday
from orchestration.resources import XmoDataDir
from orchestration.settings import Settings
from tests.fakes.nexthink import FakeNexthink

HEADERS = ["device_id", "employee_id", "device_type", "model", "os_version"]
ROWS = [["D000001", "E000001", "laptop", "Latitude 7440", "Windows 11 Pro 23H2"]]
NEXTHINK_ENV = (
    "XMO_NEXTHINK_URL",
    "XMO_NEXTHINK_TOKEN_URL",
    "XMO_NEXTHINK_CLIENT_ID",
    "XMO_NEXTHINK_CLIENT_SECRET",
    "XMO_NEXTHINK_QUERY_ID",
    "XMO_NEXTHINK_API_VERSION",
    "XMO_NEXTHINK_DAY_PARAMETER",
)


@pytest.fixture(autouse=True)
def no_nexthink_environment(monkeypatch):
    for name in NEXTHINK_ENV:
        monkeypatch.delenv(name, raising=False)


def point_at(monkeypatch, fake: FakeNexthink, secret: str | None = None) -> None:
    monkeypatch.setenv("XMO_NEXTHINK_URL", fake.url)
    monkeypatch.setenv("XMO_NEXTHINK_TOKEN_URL", fake.token_url)
    monkeypatch.setenv("XMO_NEXTHINK_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("XMO_NEXTHINK_CLIENT_SECRET", secret or fake.client_secret)


def materialize(tmp_path, config: dict | None = None) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"landing__nexthink_pull": {"config": config}}} if config else None
    return dg.materialize(
        [nexthink_pull],
        resources={"xmo": XmoDataDir(data_dir=str(tmp_path / "data"))},
        run_config=run_config,
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure.event_specific_data.error.message


def test_the_asset_lands_yesterday_and_reports_what_it_did(tmp_path, monkeypatch):
    with FakeNexthink(HEADERS, ROWS) as fake:
        point_at(monkeypatch, fake)
        result = materialize(tmp_path)

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    day = yesterday().isoformat()
    assert metadata == {
        "records": 1,
        "files_written": 1,
        "days": day,
        "requests": 1,
        "query_id": "#xmo_device_day",
    }
    assert (tmp_path / f"data/landing/device/{day}/nexthink.csv").exists()
    assert fake.requests[0]["body"] == {"queryId": "#xmo_device_day"}  # no day parameter


def test_with_a_day_parameter_the_asset_pulls_the_configured_days(tmp_path, monkeypatch):
    monkeypatch.setenv("XMO_NEXTHINK_DAY_PARAMETER", "day")
    with FakeNexthink(HEADERS, ROWS) as fake:
        point_at(monkeypatch, fake)
        result = materialize(tmp_path, {"days": ["2026-03-03", "2026-03-02"]})

    assert result.success
    assert [r["body"]["parameters"] for r in fake.requests] == [
        {"day": "2026-03-02"},
        {"day": "2026-03-03"},
    ]
    for day in ("2026-03-02", "2026-03-03"):
        assert (tmp_path / f"data/landing/device/{day}/nexthink.csv").exists()


def test_a_refused_secret_fails_the_step_once_without_retries(tmp_path, monkeypatch):
    with FakeNexthink(HEADERS, ROWS) as fake:
        point_at(monkeypatch, fake, secret="wrong-S3cret")
        result = materialize(tmp_path)

    assert not result.success
    message = failure_message(result)
    assert "Nexthink pull stopped" in message and "XMO_NEXTHINK_CLIENT_SECRET" in message
    assert "wrong-S3cret" not in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(fake.token_requests) == 1 and fake.requests == []


def test_without_a_url_the_step_names_every_missing_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("XMO_NEXTHINK_CLIENT_ID", "xmo-pipeline")
    result = materialize(tmp_path)
    message = failure_message(result)
    assert "set XMO_NEXTHINK_URL, XMO_NEXTHINK_CLIENT_SECRET" in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_another_day_than_yesterday_needs_the_day_parameter():
    latest = date(2026, 3, 3)
    plain = Settings.from_env({})
    assert days_to_pull(plain, [], latest) == [latest]
    assert days_to_pull(plain, [latest], latest) == [latest]
    with pytest.raises(NexthinkDayError, match="XMO_NEXTHINK_DAY_PARAMETER"):
        days_to_pull(plain, [date(2026, 3, 1)], latest)
    with pytest.raises(NexthinkDayError, match="not a complete day yet"):
        days_to_pull(plain, [date(2026, 3, 4)], latest)
    with_parameter = Settings.from_env({"XMO_NEXTHINK_DAY_PARAMETER": "day"})
    assert days_to_pull(with_parameter, [latest, date(2026, 3, 1)], latest) == [
        date(2026, 3, 1),
        latest,
    ]
