"""The HappySignals pull as a Dagster asset: what it reports, and when it may be retried."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.happysignals import happysignals_pull
from orchestration.resources import XmoDataDir
from tests.fakes.happysignals import FakeHappySignals

ITEM = {
    "id": "HS1",
    "type": "ticket",
    "ticket": "INC1",
    "created_at": "2026-03-02T08:00:00Z",
    "updated_at": "2026-03-02T09:00:00Z",
    "user_id": "E1",
    "rating": 9,
}


def materialize(tmp_path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [happysignals_pull],
        resources={"xmo": XmoDataDir(data_dir=str(tmp_path / "data"))},
        raise_on_error=False,
    )


def test_the_asset_lands_the_responses_and_reports_what_it_did(tmp_path, monkeypatch):
    with FakeHappySignals([ITEM]) as fake:
        monkeypatch.setenv("XMO_HAPPYSIGNALS_URL", fake.url)
        monkeypatch.setenv("XMO_HAPPYSIGNALS_TOKEN", fake.token)
        result = materialize(tmp_path)

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata == {
        "records": 1,
        "files_written": 1,
        "days": "2026-03-02",
        "requests": 1,
        "watermark": "2026-03-02T09:00:00Z",
    }
    assert (tmp_path / "data/landing/survey/2026-03-02/happysignals.csv").exists()


def test_a_refused_token_fails_the_step_once_without_retries(tmp_path, monkeypatch):
    with FakeHappySignals([ITEM]) as fake:
        monkeypatch.setenv("XMO_HAPPYSIGNALS_URL", fake.url)
        monkeypatch.setenv("XMO_HAPPYSIGNALS_TOKEN", "wrong-T0ken")
        result = materialize(tmp_path)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.message
    assert "HappySignals pull stopped" in message and "XMO_HAPPYSIGNALS_TOKEN" in message
    assert "wrong-T0ken" not in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(fake.requests) == 1


def test_without_a_url_the_step_says_which_variable_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("XMO_HAPPYSIGNALS_URL", raising=False)
    result = materialize(tmp_path)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "set XMO_HAPPYSIGNALS_URL" in failure.event_specific_data.error.message
