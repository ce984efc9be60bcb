"""The Intune pull as a Dagster asset: what it reports, which day, when it may be retried."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from ingestion.http_api import RetryPolicy
from ingestion.intune.client import IntuneClient, IntuneSettings
from orchestration.assets.intune import (
    IntuneDayError,
    IntunePullConfig,
    day_to_pull,
    intune_pull,
    yesterday,
)
from orchestration.resources import XmoDataDir
from orchestration.settings import Settings
from tests.fakes.graph import FakeGraph, Fault

MANAGED = [{"id": "d-1", "userPrincipalName": "ana.lopez@contoso.com"}, {"id": "d-2"}]
PERFORMANCE = [
    {"id": "d-1", "model": "Latitude 7440", "coreBootTimeInMs": 30000, "blueScreenCount": 0},
    {"id": "d-2", "model": "OptiPlex 7010", "coreBootTimeInMs": 50000, "blueScreenCount": 1},
]
INTUNE_ENV = (
    "XMO_INTUNE_TENANT_ID",
    "XMO_INTUNE_CLIENT_ID",
    "XMO_INTUNE_CLIENT_SECRET",
    "XMO_INTUNE_GRAPH_URL",
    "XMO_INTUNE_TOKEN_URL",
)


@pytest.fixture(autouse=True)
def no_intune_environment(monkeypatch):
    for name in INTUNE_ENV:
        monkeypatch.delenv(name, raising=False)


def point_at(monkeypatch, fake: FakeGraph, secret: str | None = None) -> None:
    monkeypatch.setenv("XMO_INTUNE_TENANT_ID", fake.tenant_id)
    monkeypatch.setenv("XMO_INTUNE_GRAPH_URL", fake.graph_url)
    monkeypatch.setenv("XMO_INTUNE_TOKEN_URL", fake.token_url)
    monkeypatch.setenv("XMO_INTUNE_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("XMO_INTUNE_CLIENT_SECRET", secret or fake.client_secret)


def materialize(tmp_path, config: dict | None = None) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"landing__intune_pull": {"config": config}}} if config else None
    return dg.materialize(
        [intune_pull],
        resources={"xmo": XmoDataDir(data_dir=str(tmp_path / "data"))},
        run_config=run_config,
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure.event_specific_data.error.message


def retried(result: dg.ExecuteInProcessResult) -> bool:
    return any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)


@pytest.mark.parametrize(
    ("battery", "shown"),
    [([{"deviceId": "d-1", "maxCapacityPercentage": 91}], "present"), (None, "absent")],
)
def test_the_asset_lands_yesterday_and_reports_what_it_did(tmp_path, monkeypatch, battery, shown):
    with FakeGraph(MANAGED, PERFORMANCE, [], battery=battery) as fake:
        point_at(monkeypatch, fake)
        result = materialize(tmp_path)

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    day = yesterday().isoformat()
    assert metadata == {
        "records": 2,
        "devices_without_user": 1,
        "battery": shown,
        "requests": 4,
        "day": day,
    }
    lines = (tmp_path / f"data/landing/device/{day}/intune.csv").read_text().splitlines()
    assert lines[1] == (
        f"d-1,ana.lopez@contoso.com,{day},laptop,Latitude 7440,,30,,,,0,"
        + ("91" if battery else "")
    )


def test_a_refused_secret_fails_the_step_once_without_retries(tmp_path, monkeypatch):
    with FakeGraph(MANAGED, PERFORMANCE, []) as fake:
        point_at(monkeypatch, fake, secret="wrong~S3cret")
        result = materialize(tmp_path)

    assert not result.success and not retried(result)
    message = failure_message(result)
    assert "Failure: Intune pull stopped: " in message and "XMO_INTUNE_CLIENT_SECRET" in message
    assert "DeviceManagementManagedDevices.Read.All" in message
    assert "wrong~S3cret" not in message and fake.client_secret not in message
    assert len(fake.token_requests) == 1 and fake.requests == []


def test_a_graph_that_stays_down_is_a_failure_the_step_may_retry(tmp_path, monkeypatch):
    # Invoked directly (a materialization would wait out the step's retry delays).
    monkeypatch.setattr("orchestration.assets.intune.IntuneClient.from_settings", _no_waiting)
    with FakeGraph(MANAGED, PERFORMANCE, [], faults={n: Fault(503) for n in range(1, 9)}) as fake:
        point_at(monkeypatch, fake)
        with dg.build_asset_context() as context, pytest.raises(dg.Failure) as failure:
            intune_pull(
                context=context,
                config=IntunePullConfig(),
                xmo=XmoDataDir(data_dir=str(tmp_path / "data")),
            )
    assert failure.value.allow_retries
    assert "Intune pull stopped" in failure.value.description
    assert "HTTP 503 after 2 attempts" in failure.value.description


def _no_waiting(settings: IntuneSettings) -> IntuneClient:
    return IntuneClient(
        settings.graph_url,
        settings.token_url,
        settings.tenant_id,
        settings.client_id,
        settings.client_secret,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0),
        sleep=lambda seconds: None,
    )


def test_without_settings_or_with_another_day_the_step_fails_without_retrying(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XMO_INTUNE_CLIENT_ID", "xmo-pipeline")
    result = materialize(tmp_path)
    assert "set XMO_INTUNE_TENANT_ID, XMO_INTUNE_CLIENT_SECRET" in failure_message(result)
    assert not retried(result)

    result = materialize(tmp_path, {"day": "2026-03-01"})
    assert "2026-03-01 cannot be pulled" in failure_message(result) and not retried(result)


def test_only_the_latest_day_can_be_pulled():
    latest = date(2026, 3, 3)
    assert day_to_pull([], latest) == latest
    assert day_to_pull([latest, latest], latest) == latest
    with pytest.raises(IntuneDayError, match="2026-03-02 cannot be pulled"):
        day_to_pull([date(2026, 3, 2)], latest)
    with pytest.raises(IntuneDayError, match="2026-03-02 cannot be pulled"):
        day_to_pull([latest, date(2026, 3, 2)], latest)
    with pytest.raises(IntuneDayError, match="not a complete day yet"):
        day_to_pull([date(2026, 3, 4)], latest)


def test_intune_settings_have_documented_defaults_and_never_hold_the_credentials():
    defaults = Settings.from_env({})
    assert defaults.intune_tenant_id is None and defaults.intune_token_url is None
    assert defaults.intune_graph_url == "https://graph.microsoft.com"
    custom = Settings.from_env(
        {
            "XMO_INTUNE_TENANT_ID": "contoso.onmicrosoft.com",
            "XMO_INTUNE_GRAPH_URL": "https://graph.microsoft.us",
            "XMO_INTUNE_TOKEN_URL": "https://login.microsoftonline.us/x/oauth2/v2.0/token",
            "XMO_INTUNE_CLIENT_SECRET": "s3cr3t~Value",
        }
    )
    assert custom.intune_tenant_id == "contoso.onmicrosoft.com"
    assert custom.intune_graph_url == "https://graph.microsoft.us"
    assert custom.intune_token_url == "https://login.microsoftonline.us/x/oauth2/v2.0/token"
    assert "s3cr3t~Value" not in repr(custom)
