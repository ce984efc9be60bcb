"""The Intune endpoint analytics pull against a local stand-in of a Microsoft Graph tenant."""

from __future__ import annotations

import copy
import logging
from datetime import date
from pathlib import Path

import pytest

from ingestion.intune import (
    COLUMNS,
    IntuneClient,
    IntuneError,
    device_landing_path,
    device_type,
    pull_device_snapshot,
    settings_from_env,
)
from ingestion.intune.client import RetryPolicy, scope_for, token_url_for
from orchestration.assets.intune import yesterday
from orchestration.cli import EXIT_RUN_FAILED, EXIT_USAGE, main
from tests.fakes.graph import (
    APP_HEALTH,
    BATTERY_HEALTH,
    DEVICE_PERFORMANCE,
    MANAGED_DEVICES,
    FakeClock,
    FakeGraph,
    Fault,
)

DAY = date(2026, 3, 3)


def guid(n: int) -> str:
    return f"a1b2c3d4-{n:04d}-4000-8000-0000000000{n:02d}"


# A small tenant as Graph would answer it (more properties than the pull selects). Device 6
# was retired from Intune (no managed device record); device 8 is a phone (no analytics);
# device 5 is a kiosk without a primary user; device 7's app health and battery records name
# it in capitals.
MANAGED = [
    {"id": guid(1), "userPrincipalName": "ana.lopez@contoso.com", "deviceName": "LT-0001",
     "operatingSystem": "Windows", "model": "Latitude 7440", "manufacturer": "Dell Inc."},
    {"id": guid(2), "userPrincipalName": "ben.okafor@contoso.com", "deviceName": "DT-0002",
     "operatingSystem": "Windows", "model": "OptiPlex 7010", "manufacturer": "Dell Inc."},
    {"id": guid(3), "userPrincipalName": "chen.wei@contoso.com", "deviceName": "AVD-0003",
     "operatingSystem": "Windows", "model": "Virtual Machine"},
    {"id": guid(4), "userPrincipalName": "dana.berg@contoso.com", "deviceName": "CPC-0004",
     "operatingSystem": "Windows"},
    {"id": guid(5), "userPrincipalName": "", "deviceName": "KIOSK-0005",
     "operatingSystem": "Windows"},
    {"id": guid(7), "userPrincipalName": "eve.martin@contoso.com", "deviceName": "LT-0007",
     "operatingSystem": "Windows"},
    {"id": guid(8), "userPrincipalName": "ana.lopez@contoso.com", "deviceName": "iPhone",
     "operatingSystem": "iOS"},
]  # fmt: skip


def performance(n, model, manufacturer, os, boot, gp_boot, login, gp_login, blue_screens):
    record = {
        "id": guid(n),
        "deviceName": f"DEVICE-{n:04d}",
        "model": model,
        "manufacturer": manufacturer,
        "diskType": "ssd",
        "operatingSystemVersion": os,
        "bootScore": 71,
        "coreBootTimeInMs": boot,
        "groupPolicyBootTimeInMs": gp_boot,
        "healthStatus": "meetingGoals",
        "loginScore": 80,
        "coreLoginTimeInMs": login,
        "groupPolicyLoginTimeInMs": gp_login,
        "responsiveDesktopTimeInMs": 3100,
        "blueScreenCount": blue_screens,
        "restartCount": 9,
        "startupPerformanceScore": 74.5,
    }
    return {key: value for key, value in record.items() if value is not None}


W11, W10 = "10.0.22631.4751", "10.0.19045.5371"
PERFORMANCE = [
    performance(1, "Latitude 7440", "Dell Inc.", W11, 31000, 4500, 12000, 3250, 1),
    performance(2, "OptiPlex 7010", "Dell Inc.", W11, 52000, 0, 20500, None, 0),
    performance(3, "Virtual Machine", "Microsoft Corporation", "10.0.22621.3007", 0, 0, 9000,
                1200, 0),
    performance(4, "Cloud PC Enterprise 2vCPU/8GB/128GB", "Microsoft Corporation", W11, 24000,
                1500, 8000, 0, 0),
    performance(5, "HP EliteDesk 800 G6 Small Form Factor PC", "HP", W10, 45000, 2000, 0, 0, 2),
    performance(6, "ThinkPad T14 Gen 3", "LENOVO", W11, 38000, 1000, 15000, 0, None),
    performance(7, "20XW003GUS", "LENOVO", W11, 40000, 2500, 11000, 500, 0),
]  # fmt: skip


def app_health(device_id: str, crashes: int, hangs: int) -> dict:
    return {
        "id": f"app-health-{device_id}",
        "deviceId": device_id,
        "deviceModel": "x",
        "appCrashCount": crashes,
        "crashedAppCount": min(crashes, 2),
        "appHangCount": hangs,
        "deviceAppHealthScore": 88.5,
        "healthStatus": "meetingGoals",
    }


APP_HEALTH_RECORDS = [
    app_health(guid(1), 3, 1),
    app_health(guid(2), 0, 0),
    app_health(guid(5), 7, 2),
    app_health(guid(7).upper(), 1, 0),
    app_health(guid(8), 4, 4),
]


def battery(device_id: str, capacity: int) -> dict:
    return {
        "id": f"battery-{device_id}",
        "deviceId": device_id,
        "maxCapacityPercentage": capacity,
        "estimatedRuntimeInMinutes": 300,
        "batteryAgeInDays": 400,
        "deviceBatteryHealthScore": 70,
        "healthStatus": "meetingGoals",
    }


BATTERY = [battery(guid(1), 87), battery(guid(7).upper(), 64), battery(guid(9), 90)]

EXPECTED = f"""\
device_id,user_principal_name,snapshot_date,device_type,model,os_version,boot_duration_s,logon_duration_s,app_crashes_30d,app_freezes_30d,system_crashes_30d,battery_health_pct
{guid(1)},ana.lopez@contoso.com,2026-03-03,laptop,Latitude 7440,{W11},35.5,15.25,3,1,1,87
{guid(2)},ben.okafor@contoso.com,2026-03-03,desktop,OptiPlex 7010,{W11},52,20.5,0,0,0,
{guid(3)},chen.wei@contoso.com,2026-03-03,virtual,Virtual Machine,10.0.22621.3007,,10.2,,,0,
{guid(4)},dana.berg@contoso.com,2026-03-03,virtual,Cloud PC Enterprise 2vCPU/8GB/128GB,{W11},25.5,8,,,0,
{guid(5)},,2026-03-03,desktop,HP EliteDesk 800 G6 Small Form Factor PC,{W10},47,,7,2,2,
{guid(6)},,2026-03-03,laptop,ThinkPad T14 Gen 3,{W11},39,15,,,,
{guid(7)},eve.martin@contoso.com,2026-03-03,laptop,20XW003GUS,{W11},42.5,11.5,1,0,0,64
"""  # noqa: E501

SELECTS = {
    MANAGED_DEVICES: ["id", "userPrincipalName"],
    APP_HEALTH: ["deviceId", "appCrashCount", "appHangCount"],
    BATTERY_HEALTH: ["deviceId", "maxCapacityPercentage"],
    DEVICE_PERFORMANCE: [
        "id",
        "model",
        "manufacturer",
        "operatingSystemVersion",
        "coreBootTimeInMs",
        "groupPolicyBootTimeInMs",
        "coreLoginTimeInMs",
        "groupPolicyLoginTimeInMs",
        "blueScreenCount",
    ],
}


def tenant(**kwargs) -> FakeGraph:
    kwargs.setdefault("battery", copy.deepcopy(BATTERY))
    return FakeGraph(
        copy.deepcopy(MANAGED),
        copy.deepcopy(PERFORMANCE),
        copy.deepcopy(APP_HEALTH_RECORDS),
        **kwargs,
    )


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def environment(fake: FakeGraph, **overrides: str) -> dict[str, str]:
    return {
        "XMO_INTUNE_TENANT_ID": fake.tenant_id,
        "XMO_INTUNE_CLIENT_ID": fake.client_id,
        "XMO_INTUNE_CLIENT_SECRET": fake.client_secret,
        "XMO_INTUNE_GRAPH_URL": fake.graph_url,
        "XMO_INTUNE_TOKEN_URL": fake.token_url,
        **overrides,
    }


def client_for(fake: FakeGraph, sleeps: Sleeps | None = None, **overrides: str) -> IntuneClient:
    return IntuneClient.from_settings(
        settings_from_env(environment(fake, **overrides)),
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
        clock=fake.clock,
    )


def landed(landing: Path, day: date = DAY) -> str:
    return device_landing_path(landing, day).read_bytes().decode("utf-8")


def test_a_pull_lands_one_row_per_device_joined_from_the_four_collections(tmp_path):
    landing = tmp_path / "landing"
    with tenant() as fake:
        client = client_for(fake)
        result = pull_device_snapshot(client, landing, DAY)

    path = landing / "device" / "2026-03-03" / "intune.csv"
    assert result.file == path and result.files == [path]
    assert landed(landing) == EXPECTED
    assert EXPECTED.splitlines()[0] == ",".join(COLUMNS)
    assert sorted(p.name for p in path.parent.iterdir()) == ["intune.csv"]  # nothing aside
    assert (result.rows, result.devices_without_user, result.duplicates) == (7, 2, 0)
    assert result.battery and result.battery_note is None

    # One token from the documented client-credentials form, for the tenant and Graph scope.
    assert fake.token_requests == [
        {
            "grant_type": "client_credentials",
            "client_id": fake.client_id,
            "scope": "https://graph.microsoft.com/.default",
            "tenant": fake.tenant_id,
            "secret_ok": True,
        }
    ]
    # Each collection read to its last page (two records a page), only the properties used.
    pages = {MANAGED_DEVICES: 4, APP_HEALTH: 3, BATTERY_HEALTH: 2, DEVICE_PERFORMANCE: 4}
    assert [r["path"] for r in fake.requests] == [p for p, n in pages.items() for _ in range(n)]
    for path_, count in pages.items():
        requests = fake.graph_requests(path_)
        assert [r["skiptoken"] for r in requests] == [None, *(str(2 * i) for i in range(1, count))]
        assert all(r["select"] == SELECTS[path_] for r in requests), path_
    assert client.requests == 13 and fake.refused == 0


def test_device_type_rule():
    assert device_type("Virtual Machine", "Microsoft Corporation", False) == "virtual"
    assert device_type("VMware7,1", "VMware, Inc.", False) == "virtual"
    assert device_type("VirtualBox", "innotek GmbH", False) == "virtual"
    assert device_type("Cloud PC Enterprise 2vCPU/8GB/128GB", "Microsoft Corporation", False) == (
        "virtual"
    )
    assert device_type("Standard PC (Q35 + ICH9, 2009)", "QEMU", True) == "virtual"
    assert device_type("20XW003GUS", "LENOVO", True) == "laptop"  # a battery says laptop
    for model in ("Latitude 5440", "HP EliteBook 840 G10", "ThinkPad X1 Carbon", "Surface Pro 9"):
        assert device_type(model, "", False) == "laptop", model
    for model in ("OptiPlex 7010", "HP EliteDesk 800 G6", "20XW003GUS", "", "Surface Studio 2"):
        assert device_type(model, "", False) == "desktop", model


@pytest.mark.parametrize("status", [404, 403, 400])
def test_without_the_beta_battery_resource_the_pull_lands_without_battery_and_says_so(
    tmp_path, caplog, status
):
    caplog.set_level(logging.WARNING)
    with tenant(battery=None, battery_status=status) as fake:
        result = pull_device_snapshot(client_for(fake), tmp_path, DAY)

    assert not result.battery
    assert f"HTTP {status}" in (result.battery_note or "")
    assert "battery" in (result.battery_note or "") and result.battery_note in caplog.text
    lines = landed(tmp_path).splitlines()
    assert all(line.endswith(",") for line in lines[1:])  # battery_health_pct empty throughout
    # Without a battery record, the Lenovo type code is no longer known to be a laptop; the
    # ThinkPad still is by its name.
    expected = [
        line.rsplit(",", 1)[0] + ","
        for line in EXPECTED.replace(",laptop,20XW", ",desktop,20XW").splitlines()[1:]
    ]
    assert lines[1:] == expected
    assert len(fake.graph_requests(BATTERY_HEALTH)) == 1 and fake.refused == 0


def test_a_429_waits_at_least_retry_after_and_503_504_back_off(tmp_path):
    sleeps = Sleeps()
    # Requests 1-2 and 4-5: managedDevices (3 is throttled, then asked again); 6-8 app health;
    # 9-10 battery; 11 and 12 the first device performance page, answered 503 then 504.
    faults = {3: Fault(429, {"Retry-After": "7"}), 11: Fault(503), 12: Fault(504)}
    with tenant(faults=faults) as fake:
        pull_device_snapshot(client_for(fake, sleeps), tmp_path, DAY)

    assert landed(tmp_path) == EXPECTED
    assert sleeps == [7.0, 0.5, 1.0]  # Retry-After beats the 0.5 s backoff; then 0.5 s, 1 s
    assert len(fake.requests) == 16 and len(fake.token_requests) == 1
    assert [r["skiptoken"] for r in fake.requests[1:4]] == ["2", "4", "4"]  # same page again


def test_a_token_is_renewed_before_it_expires(tmp_path):
    # 1,000 s pass after each request: a token of 3,599 s is renewed a minute before it
    # expires, so Graph never sees an expired one.
    with tenant(clock=FakeClock(step=1000.0)) as fake:
        pull_device_snapshot(client_for(fake), tmp_path, DAY)
    assert landed(tmp_path) == EXPECTED
    assert len(fake.token_requests) == 4 and fake.refused == 0 and len(fake.requests) == 13


def test_a_token_graph_refuses_is_renewed_once_and_the_pull_goes_on(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    with tenant(token_uses=5) as fake:
        pull_device_snapshot(client_for(fake, sleeps), tmp_path, DAY)
    assert landed(tmp_path) == EXPECTED
    assert len(fake.token_requests) == 3 and fake.refused == 2 and len(fake.requests) == 15
    assert sleeps == []  # a renewal is not a backoff
    assert not [token for token in fake.issued if token in caplog.text]


WRONG_SECRET = "Wr0ng~Gr4ph.S3cret_value"


def test_a_wrong_secret_stops_at_once_with_one_line_naming_the_settings_and_permission(
    tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    with tenant() as fake:
        client = client_for(fake, sleeps, XMO_INTUNE_CLIENT_SECRET=WRONG_SECRET)
        with pytest.raises(IntuneError) as error:
            pull_device_snapshot(client, tmp_path / "landing", DAY)

    message = str(error.value)
    assert "\n" not in message and not error.value.transient
    assert "HTTP 401" in message and "invalid_client" in message
    assert "XMO_INTUNE_CLIENT_ID" in message and "XMO_INTUNE_CLIENT_SECRET" in message
    assert "DeviceManagementManagedDevices.Read.All" in message
    assert f"/{fake.tenant_id}/oauth2/v2.0/token" in message
    # No retry storm: one token request, no Graph request, no waiting, nothing landed.
    assert len(fake.token_requests) == 1 and fake.requests == [] and sleeps == []
    assert not fake.token_requests[0]["secret_ok"]
    assert not (tmp_path / "landing").exists()
    for text in (message, repr(error.value), caplog.text, repr(client.api.auth)):
        assert WRONG_SECRET not in text and fake.client_secret not in text


def test_graph_refusing_access_names_the_permission(tmp_path):
    with tenant(forbidden=True) as fake:
        with pytest.raises(IntuneError) as error:
            pull_device_snapshot(client_for(fake), tmp_path, DAY)
    message = str(error.value)
    assert message.startswith(f"{fake.graph_url}/v1.0/deviceManagement/managedDevices: HTTP 403")
    assert "DeviceManagementManagedDevices.Read.All" in message and "admin consent" in message
    assert "XMO_INTUNE_CLIENT_ID" in message and "\n" not in message
    assert len(fake.requests) == 1  # a 403 is not retried

    with tenant(token_uses=0) as fake:  # every token refused: renewed once, then an error
        with pytest.raises(IntuneError, match=r"HTTP 401 \(a new access token was refused too\)"):
            pull_device_snapshot(client_for(fake), tmp_path, DAY)
    assert len(fake.token_requests) == 2 and len(fake.requests) == 2


def test_the_secret_is_in_no_log_error_file_or_repr(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with tenant(faults={2: Fault(429, {"Retry-After": "1"})}) as fake:
        settings = settings_from_env(environment(fake))
        pull_device_snapshot(client_for(fake), tmp_path / "landing", DAY)
        with pytest.raises(IntuneError) as error:
            fake.forbidden = True
            pull_device_snapshot(client_for(fake), tmp_path / "landing", date(2026, 3, 4))
    secret = fake.client_secret
    texts = [caplog.text, str(error.value), repr(error.value), repr(settings)]
    texts += [p.read_bytes().decode() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(texts) == 5  # the day file is the one file written
    assert not [text for text in texts if secret in text]
    assert not [text for text in texts for token in fake.issued if token in text]


def test_a_failing_pull_leaves_the_landed_day_untouched(tmp_path):
    landing = tmp_path / "landing"
    with tenant() as fake:
        pull_device_snapshot(client_for(fake), landing, DAY)
    path = device_landing_path(landing, DAY)
    before = (path.read_bytes(), path.stat().st_mtime_ns)

    # The device performance pages are being written when Graph stops answering.
    failing = {n: Fault(503) for n in range(12, 40)}
    with tenant(faults=failing) as fake:
        with pytest.raises(IntuneError, match="HTTP 503 after 4 attempts") as error:
            pull_device_snapshot(client_for(fake), landing, DAY)
    assert error.value.transient
    assert fake.graph_requests(DEVICE_PERFORMANCE)[0]["skiptoken"] is None  # page 1 was written
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["intune.csv"]  # no staged file


def test_pulling_the_day_again_replaces_its_file(tmp_path):
    with tenant() as fake:
        pull_device_snapshot(client_for(fake), tmp_path, DAY)
        del fake.device_performance[1:]
        fake.app_health[0]["appCrashCount"] = 5
        pull_device_snapshot(client_for(fake), tmp_path, DAY)
    assert landed(tmp_path).splitlines()[1:] == [
        EXPECTED.splitlines()[1].replace(",3,1,1,87", ",5,1,1,87")
    ]


def test_a_next_link_to_another_host_is_not_followed(tmp_path):
    with tenant(next_link_root="http://graph.example.org") as fake:
        with pytest.raises(IntuneError, match=r"graph\.example\.org.*not on http://127\.0\.0\.1"):
            pull_device_snapshot(client_for(fake), tmp_path, DAY)
    assert len(fake.requests) == 1 and not (tmp_path / "device").exists()


def test_repeated_device_records_land_once(tmp_path):
    with tenant(page_size=3) as fake:
        fake.device_performance.insert(4, copy.deepcopy(fake.device_performance[0]))
        result = pull_device_snapshot(client_for(fake), tmp_path, DAY)
    assert landed(tmp_path) == EXPECTED and result.duplicates == 1 and result.rows == 7


def test_settings_name_what_is_missing_and_derive_the_token_endpoint():
    with pytest.raises(IntuneError) as error:
        settings_from_env({"XMO_INTUNE_CLIENT_ID": "c"})
    assert str(error.value) == (
        "set XMO_INTUNE_TENANT_ID, XMO_INTUNE_CLIENT_SECRET to pull device analytics from Intune"
    )
    env = {
        "XMO_INTUNE_TENANT_ID": "contoso.onmicrosoft.com",
        "XMO_INTUNE_CLIENT_ID": "c",
        "XMO_INTUNE_CLIENT_SECRET": "s3cr3t~Value",
    }
    settings = settings_from_env(env)
    assert settings.graph_url == "https://graph.microsoft.com"
    assert settings.token_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert "s3cr3t~Value" not in repr(settings)
    us_gov = settings_from_env(env | {"XMO_INTUNE_GRAPH_URL": "https://graph.microsoft.us/v1.0/"})
    assert us_gov.graph_url == "https://graph.microsoft.us"
    assert us_gov.token_url.startswith("https://login.microsoftonline.us/contoso.onmicrosoft.com/")
    assert scope_for(us_gov.graph_url) == "https://graph.microsoft.us/.default"
    assert scope_for("http://127.0.0.1:8080") == "https://graph.microsoft.com/.default"
    assert token_url_for("t", "https://microsoftgraph.chinacloudapi.cn").startswith(
        "https://login.chinacloudapi.cn/t/"
    )
    with pytest.raises(IntuneError, match="XMO_INTUNE_TENANT_ID"):
        settings_from_env(env | {"XMO_INTUNE_TENANT_ID": "../common"})
    with pytest.raises(IntuneError, match="XMO_INTUNE_GRAPH_URL"):
        settings_from_env(env | {"XMO_INTUNE_GRAPH_URL": "graph.microsoft.com"})


# `xmo pull intune`, end to end against the fake tenant.

INTUNE_ENV = (
    "XMO_INTUNE_TENANT_ID",
    "XMO_INTUNE_CLIENT_ID",
    "XMO_INTUNE_CLIENT_SECRET",
    "XMO_INTUNE_GRAPH_URL",
    "XMO_INTUNE_TOKEN_URL",
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XMO_DATA_DIR", str(tmp_path / "data"))
    for name in INTUNE_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def test_xmo_pull_intune_lands_yesterday_and_never_shows_the_secret(data_dir, capsys, monkeypatch):
    day = yesterday()
    with tenant() as fake:
        for name, value in environment(fake).items():
            monkeypatch.setenv(name, value)
        assert main(["pull", "intune"]) == 0
        first = capsys.readouterr()
        monkeypatch.setenv("XMO_INTUNE_CLIENT_SECRET", WRONG_SECRET)
        assert main(["pull", "intune"]) == EXIT_RUN_FAILED
        failed = capsys.readouterr()

    path = data_dir / f"landing/device/{day}/intune.csv"
    assert path.read_text(encoding="utf-8") == EXPECTED.replace("2026-03-03", day.isoformat())
    assert "devices             7 rows in 13 requests" in first.out
    assert "without user        2" in first.out and "battery       present" in first.out
    assert f"wrote {path} (7 rows)" in first.out and "Landing files written: 1" in first.out
    [line] = failed.err.strip().splitlines()
    assert line.startswith("xmo: Intune pull stopped: ") and "HTTP 401" in line
    assert "XMO_INTUNE_CLIENT_ID" in line and "XMO_INTUNE_CLIENT_SECRET" in line
    assert "DeviceManagementManagedDevices.Read.All" in line
    everything = first.out + first.err + failed.out + failed.err
    assert fake.client_secret not in everything and WRONG_SECRET not in everything
    assert path.read_text(encoding="utf-8").count("\n") == 8  # the failed pull left it as it was


def test_xmo_pull_intune_without_settings_names_every_missing_variable(data_dir, capsys):
    assert main(["pull", "intune"]) == EXIT_USAGE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "xmo: set XMO_INTUNE_TENANT_ID, XMO_INTUNE_CLIENT_ID, XMO_INTUNE_CLIENT_SECRET "
        "to pull device analytics from Intune"
    )
    assert not (data_dir / "landing").exists()


def test_xmo_pull_intune_pulls_only_yesterday(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("XMO_INTUNE_TENANT_ID", "contoso.onmicrosoft.com")
    latest = yesterday()
    earlier = date.fromordinal(latest.toordinal() - 1)
    assert main(["pull", "intune", "--day", earlier.isoformat()]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"{earlier} cannot be pulled" in error and "snapshot of now" in error
    today = date.fromordinal(latest.toordinal() + 1)
    assert main(["pull", "intune", "--day", today.isoformat()]) == EXIT_USAGE
    assert "not a complete day yet" in capsys.readouterr().err
    assert main(["pull", "intune", "--since", "2026-03-01 00:00:00"]) == EXIT_USAGE
    assert "--since is not for intune" in capsys.readouterr().err
    # Yesterday itself is accepted; then the credentials are missing.
    assert main(["pull", "intune", "--day", latest.isoformat()]) == EXIT_USAGE
    assert "set XMO_INTUNE_CLIENT_ID, XMO_INTUNE_CLIENT_SECRET" in capsys.readouterr().err
