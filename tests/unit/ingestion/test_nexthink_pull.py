"""The Nexthink device pull against a local stand-in of the NQL API."""

from __future__ import annotations

import csv
import logging
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_partitions
from ingestion.nexthink import (
    NexthinkClient,
    NexthinkError,
    device_landing_path,
    pull_device_days,
    settings_from_env,
)
from ingestion.nexthink.client import RetryPolicy, login_token_url
from ingestion.sources import SOURCES
from tests.fakes.nexthink import FakeNexthink, Fault

DAY = date(2026, 3, 3)

# The answer of the documented query (docs/sources.md, Nexthink): the `by` fields keep their
# NQL names (mapped by ingestion/mappings/device.yml), the summarized values are named as the
# contract's columns, and there is no snapshot_date (the pull adds the day).
NQL_HEADERS = [
    "device.name",
    "employee_id",
    "device.hardware.type",
    "device.hardware.model",
    "device.operating_system.name",
    "boot_duration_s",
    "logon_duration_s",
    "app_crashes",
    "app_freezes",
    "system_crashes",
    "cpu_saturation_pct",
    "memory_saturation_pct",
    "disk_free_pct",
    "battery_health_pct",
    "network_latency_ms",
]
CONTRACT_HEADERS = [
    "device_id",
    "employee_id",
    "device_type",
    "model",
    "os_version",
    *NQL_HEADERS[5:],
    "snapshot_date",
]


def device_row(n: int, device_type: str = "laptop") -> list:
    laptop = device_type == "laptop"
    return [
        f"D{n:06d}",
        f"E{n:06d}",
        device_type,
        "Latitude 7440" if laptop else "OptiPlex 7010",
        "Windows 11 Pro 23H2",
        41.5 + n,
        12.25,
        n % 3,
        0,
        0,
        7.5,
        31.0,
        55.0,
        88.0 if laptop else None,  # battery health: laptops only (JSON null)
        23,
    ]


def eight_devices() -> list[list]:
    return [device_row(n, "laptop" if n % 4 else "desktop") for n in range(1, 9)]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(fake: FakeNexthink, sleeps: Sleeps | None = None, **kwargs) -> NexthinkClient:
    settings = settings_from_env(
        {
            "XMO_NEXTHINK_URL": fake.url,
            "XMO_NEXTHINK_TOKEN_URL": fake.token_url,
            "XMO_NEXTHINK_CLIENT_ID": fake.client_id,
            "XMO_NEXTHINK_CLIENT_SECRET": kwargs.pop("client_secret", fake.client_secret),
            **kwargs.pop("env", {}),
        }
    )
    return NexthinkClient.from_settings(
        settings,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


def landed(landing: Path, day: date = DAY) -> list[dict[str, str]]:
    with device_landing_path(landing, day).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load(tmp_path: Path, landing: Path, day: date = DAY):
    (result,) = load_partitions(tmp_path / "wh.duckdb", landing, SOURCES["device"], [day])
    return result


def warehouse_rows(tmp_path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_pull_lands_every_row_of_the_day_and_the_day_loads(tmp_path):
    landing = tmp_path / "landing"
    with FakeNexthink(NQL_HEADERS, eight_devices()) as fake:
        result = pull_device_days(client_for(fake), landing, DAY)

    path = landing / "device" / "2026-03-03" / "nexthink.csv"
    assert result.file == path and result.rows == 8 and result.files == [path]
    assert sorted(p.name for p in path.parent.iterdir()) == ["nexthink.csv"]  # nothing aside
    rows = landed(landing)
    assert [r["device.name"] for r in rows] == [f"D{n:06d}" for n in range(1, 9)]
    assert {r["snapshot_date"] for r in rows} == {"2026-03-03"}
    assert rows[0]["battery_health_pct"] == "88.0" and rows[3]["battery_health_pct"] == ""
    # One token, from the documented grant with the client as Basic auth; one execute request.
    assert fake.token_requests == [
        {
            "grant_type": "client_credentials",
            "scope": "service:integration",
            "basic_user": fake.client_id,
        }
    ]
    assert fake.requests == [
        {
            "path": "/api/v1/nql/execute",
            "accept": "application/json",
            "body": {"queryId": "#xmo_device_day"},
        }
    ]

    loaded = load(tmp_path, landing)
    assert (loaded.rows_read, loaded.loaded, loaded.quarantined) == (8, 8, 0)
    assert warehouse_rows(
        tmp_path,
        "SELECT device_id, employee_id, snapshot_date, device_type, os_version, "
        "battery_health_pct, app_crashes FROM raw.device_snapshots ORDER BY device_id LIMIT 4",
    ) == [
        ("D000001", "E000001", DAY, "laptop", "Windows 11 Pro 23H2", 88.0, 1),
        ("D000002", "E000002", DAY, "laptop", "Windows 11 Pro 23H2", 88.0, 2),
        ("D000003", "E000003", DAY, "laptop", "Windows 11 Pro 23H2", 88.0, 0),
        ("D000004", "E000004", DAY, "desktop", "Windows 11 Pro 23H2", None, 1),
    ]


@pytest.mark.parametrize(
    "variant",
    [{"env": {"XMO_NEXTHINK_API_VERSION": "2"}}, {"response_format": "csv"}],
    ids=["api_v2_objects", "text_csv"],
)
def test_v2_and_csv_answers_land_the_same_file_as_v1(tmp_path, variant):
    rows = [
        *eight_devices(),
        ["D000099", "E000099", "laptop", 'Model "X", 14"', *device_row(9)[4:]],
    ]
    with FakeNexthink(CONTRACT_HEADERS[:-1], rows) as fake:
        pull_device_days(client_for(fake), tmp_path / "v1", DAY)
        pull_device_days(client_for(fake, **variant), tmp_path / "other", DAY)
    assert fake.requests[1]["path"].startswith("/api/v2/" if "env" in variant else "/api/v1/")
    assert fake.requests[1]["accept"] == (
        "text/csv" if "response_format" in variant else "application/json"
    )
    first = device_landing_path(tmp_path / "v1", DAY).read_bytes()
    assert device_landing_path(tmp_path / "other", DAY).read_bytes() == first
    assert load(tmp_path, tmp_path / "other").loaded == 9


def test_a_429_waits_at_least_retry_after_and_5xx_back_off(tmp_path):
    sleeps = Sleeps()
    faults = {1: Fault(429, {"Retry-After": "7"}), 2: Fault(500), 3: Fault(503)}
    with FakeNexthink(NQL_HEADERS, eight_devices(), faults=faults) as fake:
        result = pull_device_days(client_for(fake, sleeps), tmp_path / "landing", DAY)
    assert result.rows == 8 and len(landed(tmp_path / "landing")) == 8
    assert sleeps == [7.0, 1.0, 2.0]  # Retry-After beats the 0.5 s backoff; then 1 s, 2 s
    assert len(fake.requests) == 4 and len(fake.token_requests) == 1


def test_an_expired_token_is_renewed_once_and_the_next_day_pulls(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    with FakeNexthink(NQL_HEADERS, eight_devices(), token_uses=1) as fake:
        client = client_for(fake, sleeps)  # one client, as a Dagster resource keeps it
        pull_device_days(client, tmp_path / "landing", DAY)
        pull_device_days(client, tmp_path / "landing", date(2026, 3, 4))

    assert len(landed(tmp_path / "landing", date(2026, 3, 4))) == 8
    # The second day's request is refused with the first token and asked once more.
    assert len(fake.token_requests) == 2 and fake.refused == 1 and len(fake.requests) == 3
    assert sleeps == []  # a renewal is not a backoff
    secrets = [fake.client_secret, *fake.issued]
    assert not [secret for secret in secrets if secret in caplog.text]


def test_a_token_refused_again_after_renewal_is_an_error_naming_the_credentials(tmp_path):
    with FakeNexthink(NQL_HEADERS, eight_devices(), token_uses=0) as fake:
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client_for(fake), tmp_path / "landing", DAY)
    message = str(error.value)
    assert "HTTP 401" in message and not error.value.transient
    assert "XMO_NEXTHINK_CLIENT_ID" in message and "XMO_NEXTHINK_CLIENT_SECRET" in message
    assert len(fake.token_requests) == 2 and len(fake.requests) == 2  # renewed once, no more
    assert not [token for token in fake.issued if token in message]
    assert not (tmp_path / "landing").exists()


WRONG_SECRET = "Wr0ng-nx-s3cret"


@pytest.mark.parametrize(
    "refusal",
    [
        (401, {"error": "invalid_client", "error_description": "Invalid value for 'client_id'."}),
        (400, {"error": "invalid_client", "error_description": f"bad secret {WRONG_SECRET}"}),
    ],
    ids=["okta_401", "echoing_the_secret"],
)
def test_a_wrong_secret_stops_at_once_naming_the_settings(tmp_path, caplog, refusal):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    with FakeNexthink(NQL_HEADERS, eight_devices(), token_refusal=refusal) as fake:
        client = client_for(fake, sleeps, client_secret=WRONG_SECRET)
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client, tmp_path / "landing", DAY)

    message = str(error.value)
    assert "XMO_NEXTHINK_CLIENT_ID" in message and "XMO_NEXTHINK_CLIENT_SECRET" in message
    assert "/oauth2/default/v1/token" in message and f"HTTP {refusal[0]}" in message
    assert "invalid_client" in message and not error.value.transient
    # No retry storm: one token request, no NQL request, no waiting.
    assert len(fake.token_requests) == 1 and fake.requests == [] and sleeps == []
    assert WRONG_SECRET not in message and WRONG_SECRET not in caplog.text
    assert WRONG_SECRET not in repr(client.api.auth)
    assert not (tmp_path / "landing").exists()


def test_a_row_breaking_the_contract_lands_and_is_quarantined_by_the_load(tmp_path):
    rows = eight_devices()
    rows[4][2] = "tablet"
    with FakeNexthink(NQL_HEADERS, rows) as fake:
        pull_device_days(client_for(fake), tmp_path / "landing", DAY)
    assert len(landed(tmp_path / "landing")) == 8  # the pull lands what it got

    loaded = load(tmp_path, tmp_path / "landing")
    assert (loaded.rows_read, loaded.loaded, loaded.quarantined) == (8, 7, 1)
    ((line, reason),) = warehouse_rows(
        tmp_path, "SELECT source_line, reason FROM raw.quarantine_device"
    )
    assert line == 6 and "device_type" in reason and "tablet" in reason


def test_pulling_a_day_again_replaces_its_file(tmp_path):
    landing = tmp_path / "landing"
    data = eight_devices()
    with FakeNexthink(NQL_HEADERS, data) as fake:
        pull_device_days(client_for(fake), landing, DAY)
        assert load(tmp_path, landing).loaded == 8
        del data[6:]  # two devices retired; one more crash reported late
        data[0][7] = 5
        pull_device_days(client_for(fake), landing, DAY)

    assert [p.name for p in device_landing_path(landing, DAY).parent.iterdir()] == ["nexthink.csv"]
    assert [r["app_crashes"] for r in landed(landing)] == ["5", "2", "0", "1", "2", "0"]
    assert load(tmp_path, landing).loaded == 6
    assert warehouse_rows(
        tmp_path, "SELECT count(*), sum(app_crashes) FROM raw.device_snapshots"
    ) == [(6, 10)]


def test_a_failing_pull_leaves_the_landed_day_untouched(tmp_path):
    landing = tmp_path / "landing"
    with FakeNexthink(NQL_HEADERS, eight_devices()) as fake:
        pull_device_days(client_for(fake), landing, DAY)
    path = device_landing_path(landing, DAY)
    before = (path.read_bytes(), path.stat().st_mtime_ns)

    failing = {n: Fault(500) for n in range(1, 20)}
    with FakeNexthink(NQL_HEADERS, eight_devices()[:3], faults=failing) as fake:
        with pytest.raises(NexthinkError, match="HTTP 500 after 4 attempts") as error:
            pull_device_days(client_for(fake), landing, DAY)
        with pytest.raises(NexthinkError):
            pull_device_days(client_for(fake), landing, date(2026, 3, 4))
    assert error.value.transient
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["nexthink.csv"]
    assert sorted(p.name for p in (landing / "device").iterdir()) == ["2026-03-03"]


def test_an_answer_at_the_execute_row_limit_fails_instead_of_landing_a_cut_day(tmp_path):
    landing = tmp_path / "landing"
    with FakeNexthink(NQL_HEADERS, eight_devices()[:4], row_limit=5) as fake:
        pull_device_days(client_for(fake, row_limit=5), landing, DAY)  # 4 < 5: complete
        before = device_landing_path(landing, DAY).read_bytes()
        fake.data = eight_devices()  # 8 devices, the endpoint answers 5 of them
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client_for(fake, row_limit=5), landing, DAY)

    message = str(error.value)
    assert "returned 5 rows" in message and "(5)" in message
    assert "/api/v1/nql/export" in message and "docs/sources.md" in message
    assert not error.value.transient
    assert device_landing_path(landing, DAY).read_bytes() == before


def test_an_answer_whose_row_count_disagrees_with_its_data_is_refused(tmp_path):
    with FakeNexthink(NQL_HEADERS, eight_devices(), declared_rows=12) as fake:
        with pytest.raises(NexthinkError, match="says 12 rows but carries 8"):
            pull_device_days(client_for(fake), tmp_path / "landing", DAY)
    assert not (tmp_path / "landing").exists()


def test_an_unknown_query_id_or_missing_columns_fail_naming_what_to_fix(tmp_path):
    with FakeNexthink(NQL_HEADERS, eight_devices(), query_id="#other_query") as fake:
        with pytest.raises(
            NexthinkError, match=r"no NQL API query #xmo_device_day.*XMO_NEXTHINK_QUERY_ID"
        ):
            pull_device_days(client_for(fake), tmp_path / "landing", DAY)
    headers = [h for h in NQL_HEADERS if h != "employee_id"]
    with FakeNexthink(headers, [r[:1] + r[2:] for r in eight_devices()]) as fake:
        with pytest.raises(
            NexthinkError, match=r"lacks the device column\(s\) employee_id or user_principal_name"
        ):
            pull_device_days(client_for(fake), tmp_path / "landing", DAY)
    assert not (tmp_path / "landing").exists()


def test_settings_come_from_the_environment_and_name_what_is_missing():
    with pytest.raises(NexthinkError) as error:
        settings_from_env({"XMO_NEXTHINK_CLIENT_ID": "c"})
    assert "XMO_NEXTHINK_URL" in str(error.value) and "XMO_NEXTHINK_CLIENT_SECRET" in str(
        error.value
    )
    assert "XMO_NEXTHINK_CLIENT_ID" not in str(error.value)

    env = {
        "XMO_NEXTHINK_URL": "https://acme.api.eu.nexthink.cloud",
        "XMO_NEXTHINK_CLIENT_ID": "c",
        "XMO_NEXTHINK_CLIENT_SECRET": "s3cr3t-Value",
    }
    settings = settings_from_env(env)
    assert settings.token_url == "https://acme-login.eu.nexthink.cloud/oauth2/default/v1/token"
    assert (settings.query_id, settings.api_version) == ("#xmo_device_day", "v1")
    assert "s3cr3t-Value" not in repr(settings)
    assert login_token_url("https://nexthink.example.org") is None
    with pytest.raises(NexthinkError, match="XMO_NEXTHINK_TOKEN_URL"):
        settings_from_env(env | {"XMO_NEXTHINK_URL": "https://proxy.example.org/nexthink"})
    with pytest.raises(NexthinkError, match="XMO_NEXTHINK_QUERY_ID"):
        settings_from_env(env | {"XMO_NEXTHINK_QUERY_ID": "xmo device day"})
    with pytest.raises(NexthinkError, match="XMO_NEXTHINK_API_VERSION"):
        settings_from_env(env | {"XMO_NEXTHINK_API_VERSION": "v3"})
    assert settings_from_env(env | {"XMO_NEXTHINK_API_VERSION": "V2"}).api_version == "v2"
