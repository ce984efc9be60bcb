"""Device marts from Microsoft Intune alone: `xmo pull intune` on two consecutive days.

A small synthetic organisation, ending yesterday, supplies tickets, surveys and the directory
(with its user principal names); its device files are taken away, and the devices come from
the Graph stand-in instead: endpoint analytics' 30-day totals, no CPU, memory or disk, users by
user principal name. The day before yesterday is pulled and run as a backfill; yesterday is
pulled and run alone, as the daily run does, so that its day counts are differences from the
totals stored the day before.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate, user_principal_name
from orchestration.assets import intune
from orchestration.cli import execute_pipeline, main, summarize
from orchestration.settings import PROJECT_SEEDS_DIR, Settings
from tests.fakes.graph import FakeGraph
from tests.integration.warehouse import query

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(employees=200, days=8, seed=23)  # no start: the timeline ends yesterday
DEVICES = 60  # employees E000001..E000060 have one device each
LAPTOP, DESKTOP = "Surface Laptop 5", "OptiPlex 7090"


def guid(n: int) -> str:
    return f"{n:08x}-0a0b-4c0d-8e0f-{n:012x}"


def employee_id(n: int) -> str:
    return f"E{n:06d}"


def tenant(crashes: dict[int, int]) -> FakeGraph:
    """Devices 1..60, odd ones laptops (with a battery record), every third crashing; device
    61 has no primary user and device 62 a user the directory does not know."""
    numbers = range(1, DEVICES + 3)
    users = {n: user_principal_name(employee_id(n)) for n in range(1, DEVICES + 1)}
    users |= {DEVICES + 1: "", DEVICES + 2: "contractor@partner.example"}
    return FakeGraph(
        managed_devices=[{"id": guid(n), "userPrincipalName": users[n]} for n in numbers],
        device_performance=[
            {
                "id": guid(n),
                "model": LAPTOP if n % 2 else DESKTOP,
                "manufacturer": "Microsoft Corporation" if n % 2 else "Dell Inc.",
                "operatingSystemVersion": "10.0.22631.4751",
                # 45 s to boot (score 83.3), 24 s to sign in (score 90).
                "coreBootTimeInMs": 40_000,
                "groupPolicyBootTimeInMs": 5_000,
                "coreLoginTimeInMs": 20_000,
                "groupPolicyLoginTimeInMs": 4_000,
                "blueScreenCount": 0,
            }
            for n in numbers
        ],
        app_health=[
            {
                "id": f"app-{n}",
                "deviceId": guid(n),
                "appCrashCount": crashes.get(n, 0),
                "appHangCount": 0,
            }
            for n in numbers
        ],
        battery=[
            {"id": f"battery-{n}", "deviceId": guid(n), "maxCapacityPercentage": 70}
            for n in numbers
            if n % 2
        ],
        page_size=25,
    )


def pull(fake: FakeGraph, monkeypatch, capsys) -> str:
    monkeypatch.setenv("XMO_INTUNE_TENANT_ID", fake.tenant_id)
    monkeypatch.setenv("XMO_INTUNE_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("XMO_INTUNE_CLIENT_SECRET", fake.client_secret)
    monkeypatch.setenv("XMO_INTUNE_GRAPH_URL", fake.graph_url)
    monkeypatch.setenv("XMO_INTUNE_TOKEN_URL", fake.token_url)
    with fake:
        assert main(["pull", "intune"]) == 0
    out = capsys.readouterr().out
    assert "Landing files written: 1" in out and fake.client_secret not in out
    return out


def test_device_marts_publish_from_intune_alone(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("XMO_DATA_DIR", str(data_dir))
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    summary = generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)
    yesterday = intune.yesterday()
    assert summary.last_day == yesterday
    shutil.rmtree(settings.landing_dir / "device")  # no DEX tool but Intune
    first_day = yesterday - timedelta(days=1)
    dates = [yesterday - timedelta(days=n) for n in range(CONFIG.days - 1, -1, -1)]
    crashing = [n for n in range(1, DEVICES + 1) if n % 3 == 1]

    # The day before yesterday: 45 crashes in 30 days on every third device.
    monkeypatch.setattr(intune, "yesterday", lambda: first_day)
    pull(tenant({n: 45 for n in crashing}), monkeypatch, capsys)
    backfill = execute_pipeline(settings, dates[:-1])
    assert backfill.success, summarize(backfill).step_failures

    # Yesterday: three more crashes in the 30 days on the same devices.
    monkeypatch.setattr(intune, "yesterday", lambda: yesterday)
    pull(tenant({n: 48 for n in crashing}), monkeypatch, capsys)
    daily = execute_pipeline(settings, [yesterday])
    run = summarize(daily)
    assert daily.success, run.step_failures
    assert run.published and run.checks_failed == []
    # The device without a primary user, once a day, and nothing else.
    reasons = query(
        settings.warehouse_path,
        "SELECT reason, count(*) FROM raw.quarantine_device GROUP BY ALL",
    )
    assert reasons == [("device without employee_id or user_principal_name", 2)]

    scored = {
        (device_id, str(day)): rest
        for device_id, day, *rest in query(
            settings.warehouse_path,
            "SELECT device_id, snapshot_date, app_stability_score, daily_counts_from, "
            "dex_components, employee_key IS NOT NULL, round(dex_score, 2) "
            "FROM intermediate.int_device_days_scored",
        )
    }
    assert len(scored) == 2 * (DEVICES + 1)
    # First snapshot: 45 / 30 = 1.5 crashes a day (score 50); then 48 - 45 = 3 (score 0).
    laptop_components = "boot,logon,app_stability,system_stability,battery"
    assert scored[(guid(1), str(first_day))][:4] == [
        50.0,
        "30_day_totals_over_30",
        laptop_components,
        True,
    ]
    assert scored[(guid(1), str(yesterday))][:2] == [0.0, "difference_of_30_day_totals"]
    # A laptop that never crashes: (0.15·83.33 + 0.15·90 + 0.20·100 + 0.15·100 + 0.075·50)
    # / 0.725 = 64.75 / 0.725 = 89.31, re-weighted over the five components Intune measures.
    assert scored[(guid(3), str(yesterday))] == [
        100.0,
        "difference_of_30_day_totals",
        laptop_components,
        True,
        89.31,
    ]
    assert scored[(guid(2), str(yesterday))][2] == "boot,logon,app_stability,system_stability"
    assert scored[(guid(DEVICES + 2), str(yesterday))][3] is False  # not in the directory

    weekly = query(
        settings.reporting_path,
        "SELECT department, model, dex_components, dex_score FROM marts.device_experience_weekly "
        "WHERE NOT low_sample",
    )
    assert weekly, "no device group of 5 or more"
    assert {department for department, *_ in weekly} - {"unknown"}
    assert {(model, components) for _, model, components, _ in weekly} <= {
        (LAPTOP, laptop_components),
        (DESKTOP, "boot,logon,app_stability,system_stability"),
    }
    assert all(0 <= score <= 100 for *_, score in weekly)
    # The devices' users, found by their user principal name, in the journeys of the month.
    journeys = query(
        settings.reporting_path,
        "SELECT sum(employees) FROM marts.device_ticket_experience_monthly "
        f"WHERE department = 'all' AND month_start = DATE '{yesterday.replace(day=1)}'",
    )
    assert journeys == [(DEVICES,)]
