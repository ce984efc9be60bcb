"""The ServiceNow REST pull against a local stand-in of the Table API."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import extract_dates, load_partitions
from ingestion.servicenow.client import Credentials, RetryPolicy, ServiceNowClient, ServiceNowError
from ingestion.servicenow.pull import load_watermarks, pull_directory, pull_tickets
from ingestion.sources import SOURCES
from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import PROJECT_SEEDS_DIR
from tests.fakes.servicenow import FakeServiceNow, Fault


def incident(n: int, updated: str, **extra) -> dict:
    return {
        "sys_id": f"id{n:03d}",
        "number": f"INC{n:07d}",
        "sys_class_name": "incident",
        "opened_at": "2026-03-01 08:00:00",
        "sys_updated_on": updated,
        "state": "2",
        "priority": {"value": "3", "display_value": "3 - Moderate"},
        **extra,
    }


def fifteen_incidents() -> list[dict]:
    return [incident(n, f"2026-03-0{1 + n % 3} 1{n % 10}:00:00") for n in range(15)]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(fake: FakeServiceNow, sleeps: Sleeps | None = None, **kwargs) -> ServiceNowClient:
    return ServiceNowClient(
        fake.url,
        Credentials(fake.user, fake.password),
        page_size=4,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


def oauth_env(fake: FakeServiceNow, *, password_grant: bool = True, **overrides) -> dict:
    env = {
        "XMO_SERVICENOW_CLIENT_ID": fake.client_id,
        "XMO_SERVICENOW_CLIENT_SECRET": fake.client_secret,
    }
    if password_grant:
        env |= {"XMO_SERVICENOW_USER": fake.user, "XMO_SERVICENOW_PASSWORD": fake.password}
    return env | overrides


def oauth_client_for(fake: FakeServiceNow, env: dict, sleeps: Sleeps | None = None, **kwargs):
    return ServiceNowClient(
        fake.url,
        Credentials.from_env(env),
        page_size=4,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


def pulled_ids(landing: Path) -> list[str]:
    return sorted(
        r["sys_id"]
        for f in landing.glob("itsm/*/*.json")
        for r in json.loads(f.read_text())["result"]
    )


def test_a_pull_follows_the_next_links_and_lands_each_day_with_a_watermark(tmp_path):
    with FakeServiceNow({"incident": fifteen_incidents()}) as fake:
        result = pull_tickets(
            client_for(fake), tmp_path / "landing", tmp_path / "state.json", tables=("incident",)
        )

    assert result.records == {"incident": 15}
    assert pulled_ids(tmp_path / "landing") == [f"id{n:03d}" for n in range(15)]
    assert sorted(p.name for p in (tmp_path / "landing" / "itsm").iterdir()) == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]
    assert load_watermarks(tmp_path / "state.json") == {"incident": "2026-03-03 18:00:00"}
    assert len(fake.requests) == 4  # 15 records at 4 per page
    first = fake.requests[0]
    assert "sysparm_query=ORDERBYsys_updated_on%5EORDERBYsys_id" in first
    assert "sysparm_display_value=all" in first


def test_short_pages_do_not_end_the_pull_before_the_total_count(tmp_path):
    # Access rules remove records after the limit, so some pages come back short or empty.
    hidden = {"id000", "id003", "id004", "id005", "id006"}
    with FakeServiceNow(
        {"incident": fifteen_incidents()}, link_header=False, hidden_sys_ids=hidden
    ) as fake:
        pull_tickets(
            client_for(fake), tmp_path / "landing", tmp_path / "s.json", tables=("incident",)
        )
    assert pulled_ids(tmp_path / "landing") == sorted(
        f"id{n:03d}" for n in range(15) if f"id{n:03d}" not in hidden
    )


def test_a_429_waits_at_least_retry_after_and_a_500_backs_off(tmp_path):
    sleeps = Sleeps()
    faults = {2: Fault(429, {"Retry-After": "7"}), 4: Fault(500)}
    with FakeServiceNow({"incident": fifteen_incidents()}, faults=faults) as fake:
        pull_tickets(
            client_for(fake, sleeps),
            tmp_path / "landing",
            tmp_path / "s.json",
            tables=("incident",),
        )
    assert pulled_ids(tmp_path / "landing") == [f"id{n:03d}" for n in range(15)]
    assert sleeps == [7.0, 0.5]


def test_an_expired_page_restarts_from_the_last_timestamp_without_duplicates(tmp_path):
    with FakeServiceNow({"incident": fifteen_incidents()}, faults={3: Fault(410)}) as fake:
        pull_tickets(
            client_for(fake), tmp_path / "landing", tmp_path / "s.json", tables=("incident",)
        )
    ids = pulled_ids(tmp_path / "landing")
    assert ids == [f"id{n:03d}" for n in range(15)]
    assert any("sys_updated_on%3E%3D" in r for r in fake.requests[3:])  # restarted by timestamp


def test_a_server_that_keeps_failing_stops_the_pull_and_keeps_the_watermark(tmp_path):
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"incident": "2026-03-01 00:00:00"}))
    faults = {n: Fault(503) for n in range(1, 10)}
    with (
        FakeServiceNow({"incident": fifteen_incidents()}, faults=faults) as fake,
        pytest.raises(ServiceNowError, match="HTTP 503 after 4 attempts"),
    ):
        pull_tickets(client_for(fake), tmp_path / "landing", state, tables=("incident",))
    assert load_watermarks(state) == {"incident": "2026-03-01 00:00:00"}
    assert not (tmp_path / "landing").exists()


def test_an_unreachable_instance_backs_off_then_gives_up_as_transient(tmp_path):
    with FakeServiceNow({}) as fake:
        url = fake.url  # the port is closed once the fake has stopped
    sleeps = Sleeps()
    client = ServiceNowClient(
        url,
        Credentials("u", "p"),
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=sleeps,
    )
    with pytest.raises(ServiceNowError, match="unreachable") as error:
        list(client.iter_records("incident"))
    assert error.value.transient
    assert sleeps == [0.5, 1.0, 2.0]
    assert client.requests == 4


def test_credentials_come_from_the_environment_and_never_reach_logs_or_errors(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ServiceNowError, match="XMO_SERVICENOW_PASSWORD"):
        Credentials.from_env({"XMO_SERVICENOW_USER": "someone"})
    with FakeServiceNow({"incident": fifteen_incidents()}, faults={1: Fault(500)}) as fake:
        credentials = Credentials.from_env(
            {"XMO_SERVICENOW_USER": fake.user, "XMO_SERVICENOW_PASSWORD": "wrong-password"}
        )
        client = ServiceNowClient(
            fake.url, credentials, sleep=Sleeps(), retry=RetryPolicy(base_delay_s=0)
        )
        with pytest.raises(ServiceNowError) as error:
            list(client.iter_records("incident"))
    assert "HTTP 401" in str(error.value) and fake.user in str(error.value)
    assert "wrong-password" not in str(error.value)
    assert "wrong-password" not in repr(credentials)
    assert "wrong-password" not in caplog.text


def test_the_next_pull_continues_from_the_watermark_with_a_small_overlap(tmp_path):
    records = fifteen_incidents()
    state = tmp_path / "s.json"
    with FakeServiceNow({"incident": records}, now="2026-03-02 23:59:59") as fake:
        first = pull_tickets(client_for(fake), tmp_path / "landing", state, tables=("incident",))
        # A day passes: one ticket resolves, the day's new tickets appear.
        records.append(
            incident(1, "2026-03-03 09:30:00", state="6", resolved_at="2026-03-03 09:30:00")
        )
        fake.now = "2026-03-03 23:59:59"
        second = pull_tickets(client_for(fake), tmp_path / "landing", state, tables=("incident",))

    assert first.watermarks["incident"] == "2026-03-02 17:00:00"
    assert "sys_updated_on%3E%3D2026-03-02+16%3A55%3A00" in fake.requests[-1]  # 5 minutes early
    # 5 new + the resolved one + id007 (17:00), fetched again by the overlap ...
    assert second.records["incident"] == 7
    day2 = json.loads((tmp_path / "landing/itsm/2026-03-02/incident.json").read_text())["result"]
    assert [r["sys_id"] for r in day2].count("id007") == 1  # ... but landed once
    day3 = json.loads((tmp_path / "landing/itsm/2026-03-03/incident.json").read_text())["result"]
    assert [r["state"] for r in day3 if r["sys_id"] == "id001"] == ["6"]
    # Re-running the same pull changes nothing on disk.
    before = {p: p.read_text() for p in (tmp_path / "landing").rglob("*.json")}
    with FakeServiceNow({"incident": records}) as fake:
        pull_tickets(client_for(fake), tmp_path / "landing", state, tables=("incident",))
    assert {p: p.read_text() for p in (tmp_path / "landing").rglob("*.json")} == before


def test_the_directory_pull_writes_a_loadable_snapshot(tmp_path):
    users = [
        {
            "sys_id": "u1",
            "sys_updated_on": "2026-01-01 00:00:00",
            "employee_number": "E000001",
            "user_name": "jdoe@corp.example",  # an instance whose users come from Entra ID
            "email": "john.doe@corp.example",
            "department": {"value": "d1", "display_value": "Finance"},
            "country": "FI",
            "location": {"value": "l1", "display_value": "Helsinki"},
            "title": "Analyst",
            "vip": "false",
        },
        {
            "sys_id": "u2",
            "sys_updated_on": "2026-01-02 00:00:00",
            "employee_number": "",
            "user_name": "asmith",
            "email": "a.smith@corp.example",
            "department": "",
            "country": "",
            "location": "",
            "title": "",
            "vip": "true",
        },
    ]
    day = date(2026, 3, 3)
    with FakeServiceNow({"sys_user": users}) as fake:
        pull_directory(client_for(fake), tmp_path / "landing", day)
    loads = list(
        load_partitions(tmp_path / "wh.duckdb", tmp_path / "landing", SOURCES["directory"], [day])
    )
    assert (loads[0].loaded, loads[0].quarantined) == (2, 0)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    assert con.execute(
        "SELECT employee_id, department, vip, user_principal_name FROM raw.directory_employees "
        "ORDER BY 1"
    ).fetchall() == [
        ("E000001", "Finance", False, "jdoe@corp.example"),
        ("asmith", None, True, "a.smith@corp.example"),
    ]


def raw_tickets(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "SELECT * EXCLUDE (_source_file, _source_line, _loaded_at) FROM raw.itsm_tickets "
            "ORDER BY _extract_date, sys_id, sys_updated_on"
        ).fetchall()
    finally:
        con.close()


def test_the_same_records_via_file_drop_and_rest_pull_give_identical_raw_tables(tmp_path):
    config = GeneratorConfig(employees=150, days=12, start=date(2026, 3, 2), seed=9)
    dropped = tmp_path / "drop" / "landing"
    generate(dropped, tmp_path / "drop" / "reference", PROJECT_SEEDS_DIR, config)
    versions: dict[str, list[dict]] = {"incident": [], "sc_req_item": []}
    for path in sorted(dropped.glob("itsm/*/*.json")):
        for record in json.loads(path.read_text())["result"]:
            versions[record["sys_class_name"]].append(record)
    pulled = tmp_path / "pull" / "landing"
    state = tmp_path / "pull" / "watermarks.json"
    with FakeServiceNow(versions) as fake:
        for offset in range(config.days):  # one pull at the end of every day
            fake.now = f"{config.start + timedelta(days=offset)} 23:59:59"
            pull_tickets(client_for(fake), pulled, state)

    for landing in (dropped, pulled):
        list(
            load_partitions(
                landing.parent / "wh.duckdb", landing, SOURCES["itsm"], extract_dates(landing)
            )
        )
    from_drop = raw_tickets(dropped.parent / "wh.duckdb")
    assert len(from_drop) > 100
    assert raw_tickets(pulled.parent / "wh.duckdb") == from_drop


# OAuth 2.0 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("password_grant", [True, False], ids=["password", "client_credentials"])
def test_an_oauth_pull_gets_a_bearer_token_and_fills_the_landing_zone(tmp_path, password_grant):
    with FakeServiceNow({"incident": fifteen_incidents()}, client_id="xmo-client") as fake:
        env = oauth_env(fake, password_grant=password_grant)
        result = pull_tickets(
            oauth_client_for(fake, env),
            tmp_path / "landing",
            tmp_path / "s.json",
            tables=("incident",),
        )

    assert result.records == {"incident": 15}
    assert pulled_ids(tmp_path / "landing") == [f"id{n:03d}" for n in range(15)]
    expected_form = {
        "grant_type": "password" if password_grant else "client_credentials",
        "client_id": "xmo-client",
        "client_secret": fake.client_secret,
    }
    if password_grant:
        expected_form |= {"username": fake.user, "password": fake.password}
    assert fake.token_requests == [expected_form]  # one token serves the whole pull
    assert len(fake.requests) == 4 and fake.refused == 0


def test_oauth_settings_come_from_the_environment_and_choose_the_grant():
    basic = {"XMO_SERVICENOW_USER": "u", "XMO_SERVICENOW_PASSWORD": "p"}
    client = {"XMO_SERVICENOW_CLIENT_ID": "c", "XMO_SERVICENOW_CLIENT_SECRET": "s3cr3t-Value"}
    assert Credentials.from_env(basic).grant_type is None  # Basic auth stays the default
    assert Credentials.from_env(client).grant_type == "client_credentials"
    assert Credentials.from_env(client | basic).grant_type == "password"
    assert "s3cr3t-Value" not in repr(Credentials.from_env(client))
    with pytest.raises(ServiceNowError, match="XMO_SERVICENOW_CLIENT_SECRET"):
        Credentials.from_env({"XMO_SERVICENOW_CLIENT_ID": "c"} | basic)
    with pytest.raises(ServiceNowError, match="XMO_SERVICENOW_CLIENT_ID"):
        Credentials.from_env({"XMO_SERVICENOW_CLIENT_SECRET": "s"})
    with pytest.raises(ServiceNowError, match="XMO_SERVICENOW_PASSWORD"):
        Credentials.from_env(client | {"XMO_SERVICENOW_USER": "u"})


def test_a_token_that_expires_mid_pull_is_renewed_once_and_the_pull_completes(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    fake_instance = FakeServiceNow(
        {"incident": fifteen_incidents()}, client_id="xmo-client", token_uses=2
    )
    with fake_instance as fake:
        pull_tickets(
            oauth_client_for(fake, oauth_env(fake), sleeps),
            tmp_path / "landing",
            tmp_path / "s.json",
            tables=("incident",),
        )

    assert pulled_ids(tmp_path / "landing") == [f"id{n:03d}" for n in range(15)]
    # 4 pages: the third is refused with the first token, and asked once more with a new one.
    assert len(fake.token_requests) == 2
    assert fake.refused == 1 and len(fake.requests) == 5
    assert sleeps == []  # a renewal is not a backoff
    secrets = [fake.client_secret, fake.password, *fake.issued]
    assert not [secret for secret in secrets if secret in caplog.text]


def test_a_token_is_renewed_shortly_before_it_expires(tmp_path):
    readings = iter(range(0, 10_000, 30))  # every look at the clock is 30 s later

    with FakeServiceNow(
        {"incident": fifteen_incidents()}, client_id="xmo-client", expires_in=100
    ) as fake:
        client = oauth_client_for(fake, oauth_env(fake), clock=lambda: next(readings))
        pull_tickets(client, tmp_path / "landing", tmp_path / "s.json", tables=("incident",))

    assert pulled_ids(tmp_path / "landing") == [f"id{n:03d}" for n in range(15)]
    # Fetched at 0 s and valid for 100 s: the request at 90 s (within the last tenth) renews it
    # first, so the instance never had to refuse one.
    assert len(fake.token_requests) == 2 and fake.refused == 0


WRONG_SECRET = "Wr0ng-s3cret-value"


@pytest.mark.parametrize(
    "refusal",
    [
        (401, {"error": "server_error", "error_description": "access_denied"}),
        (400, {"error": "invalid_client", "error_description": "Client authentication failed"}),
        (400, {"error": "invalid_client", "error_description": f"bad secret {WRONG_SECRET}"}),
    ],
    ids=["servicenow_401", "rfc6749_400", "echoing_the_secret"],
)
def test_a_wrong_client_secret_stops_at_once_naming_the_setting(tmp_path, caplog, refusal):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    wrong = WRONG_SECRET
    with FakeServiceNow(
        {"incident": fifteen_incidents()}, client_id="xmo-client", token_refusal=refusal
    ) as fake:
        client = oauth_client_for(fake, oauth_env(fake, XMO_SERVICENOW_CLIENT_SECRET=wrong), sleeps)
        with pytest.raises(ServiceNowError) as error:
            pull_tickets(client, tmp_path / "landing", tmp_path / "s.json", tables=("incident",))

    message = str(error.value)
    assert "XMO_SERVICENOW_CLIENT_SECRET" in message and "oauth_token.do" in message
    assert f"HTTP {refusal[0]}" in message and refusal[1]["error"] in message
    assert "\n" not in message and not error.value.transient
    # No retry storm: one token request, no table request, no waiting.
    assert len(fake.token_requests) == 1 and fake.requests == [] and sleeps == []
    assert wrong not in message and wrong not in caplog.text and fake.password not in message


def test_a_token_refused_again_after_renewal_is_an_error_naming_the_client_settings(tmp_path):
    with FakeServiceNow(
        {"incident": fifteen_incidents()}, client_id="xmo-client", token_uses=0
    ) as fake:
        client = oauth_client_for(fake, oauth_env(fake))
        with pytest.raises(ServiceNowError) as error:
            list(client.iter_records("incident"))

    message = str(error.value)
    assert "HTTP 401" in message
    assert "XMO_SERVICENOW_CLIENT_ID" in message and "XMO_SERVICENOW_CLIENT_SECRET" in message
    assert not error.value.transient
    assert len(fake.token_requests) == 2 and len(fake.requests) == 2  # renewed once, no more
    assert not [token for token in fake.issued if token in message]


def test_the_client_credentials_grant_refused_by_the_instance_says_it_must_be_allowed(tmp_path):
    with FakeServiceNow(
        {"incident": fifteen_incidents()}, client_id="xmo-client", client_credentials_enabled=False
    ) as fake:
        client = oauth_client_for(fake, oauth_env(fake, password_grant=False))
        with pytest.raises(ServiceNowError, match="client-credentials grant: the instance must"):
            list(client.iter_records("incident"))
    assert len(fake.token_requests) == 1 and fake.requests == []
