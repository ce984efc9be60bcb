"""`xmo` answers a user's mistake with one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import dagster as dg
import pytest

from orchestration.cli import EXIT_RUN_FAILED, EXIT_USAGE, dashboard_command, main, summarize
from orchestration.settings import PROJECT_ROOT


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XMO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_run_all_without_landing_data_explains_what_to_do(data_dir, capsys):
    assert main(["run", "--all"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "no extract folders" in error and "xmo generate" in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--from", "2026-03-10", "--to", "2026-03-01"], "is before --from"),
        (["run", "--from", "2026-03-10"], "--from needs --to"),
        (["run", "--partition", "2019-01-01"], "before the first partition"),
        (["run", "--partition", datetime.now(UTC).date().isoformat()], "not a complete day yet"),
    ],
)
def test_run_rejects_impossible_date_ranges(data_dir, capsys, args, message):
    assert main(args) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_a_bad_setting_is_one_line_naming_the_variable(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("XMO_TIMEZONE", "Mars/Olympus")
    assert main(["run", "--all"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "XMO_TIMEZONE='Mars/Olympus' is not an IANA time zone" in error
    assert "Traceback" not in error


def test_a_malformed_date_is_an_argument_error(data_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--partition", "10/03/2026"])
    assert exit_info.value.code == 2
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_generate_writes_landing_and_reference_data(data_dir, capsys):
    assert main(["generate", "--employees", "40", "--days", "3", "--start", "2026-03-02"]) == 0
    assert sorted(p.name for p in (data_dir / "landing").iterdir()) == [
        "device",
        "directory",
        "itsm",
        "survey",
    ]
    assert (data_dir / "reference" / "service_catalog.csv").exists()
    assert "2026-03-02 to 2026-03-04" in capsys.readouterr().out


def test_pull_without_an_instance_url_says_which_variable_to_set(data_dir, capsys, monkeypatch):
    monkeypatch.delenv("XMO_SERVICENOW_URL", raising=False)
    assert main(["pull", "servicenow"]) == EXIT_USAGE
    assert "XMO_SERVICENOW_URL" in capsys.readouterr().err


def test_pull_servicenow_writes_landing_files_and_a_watermark(data_dir, capsys, monkeypatch):
    from tests.fakes.servicenow import FakeServiceNow

    record = {
        "sys_id": "a1",
        "number": "INC0000001",
        "sys_class_name": "incident",
        "opened_at": "2026-03-02 08:00:00",
        "sys_updated_on": "2026-03-02 09:00:00",
        "state": "2",
    }
    with FakeServiceNow({"incident": [record], "sc_req_item": [], "sys_user": []}) as fake:
        monkeypatch.setenv("XMO_SERVICENOW_URL", fake.url)
        monkeypatch.setenv("XMO_SERVICENOW_USER", fake.user)
        monkeypatch.setenv("XMO_SERVICENOW_PASSWORD", fake.password)
        assert main(["pull", "servicenow"]) == 0
    out = capsys.readouterr().out
    assert fake.password not in out
    assert (data_dir / "landing" / "itsm" / "2026-03-02" / "incident.json").exists()
    assert (data_dir / "state" / "servicenow_watermarks.json").exists()


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "_URL"),
        ({"XMO_HAPPYSIGNALS_URL": "https://acme.eu.happysignals.com/api/v2"}, "_TOKEN"),
    ],
)
def test_pull_happysignals_without_its_settings_says_which_to_set(
    data_dir, capsys, monkeypatch, env, missing
):
    for name in ("XMO_HAPPYSIGNALS_URL", "XMO_HAPPYSIGNALS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["pull", "happysignals"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"set XMO_HAPPYSIGNALS{missing}" in error and "Traceback" not in error


def test_pull_happysignals_writes_day_files_and_prints_the_watermark(data_dir, capsys, monkeypatch):
    from tests.fakes.happysignals import FakeHappySignals

    item = {
        "id": "HS1",
        "type": "proactive",
        "topic": "laptop",
        "created_at": "2026-03-02T08:00:00Z",
        "updated_at": "2026-03-02T09:00:00Z",
        "user_id": "E1",
        "rating": 9,
    }
    with FakeHappySignals([item]) as fake:
        monkeypatch.setenv("XMO_HAPPYSIGNALS_URL", fake.url)
        monkeypatch.setenv("XMO_HAPPYSIGNALS_TOKEN", fake.token)
        assert main(["pull", "happysignals", "--since", "2026-03-01 00:00:00"]) == 0
        monkeypatch.setenv("XMO_HAPPYSIGNALS_TOKEN", "not-the-token")
        assert main(["pull", "happysignals"]) == EXIT_RUN_FAILED
    captured = capsys.readouterr()
    assert "updated_at__gte=2026-02-28T23%3A55%3A00Z" in fake.requests[0]
    assert "Watermark: 2026-03-02T09:00:00Z" in captured.out
    assert "survey/2026-03-02/happysignals.csv" in captured.out
    assert (data_dir / "landing/survey/2026-03-02/happysignals.csv").exists()
    assert "HTTP 401" in captured.err and "check XMO_HAPPYSIGNALS_TOKEN" in captured.err
    assert fake.token not in captured.out + captured.err
    assert "not-the-token" not in captured.err


NEXTHINK_ENV = (
    "XMO_NEXTHINK_URL",
    "XMO_NEXTHINK_TOKEN_URL",
    "XMO_NEXTHINK_CLIENT_ID",
    "XMO_NEXTHINK_CLIENT_SECRET",
    "XMO_NEXTHINK_DAY_PARAMETER",
)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "XMO_NEXTHINK_URL, XMO_NEXTHINK_CLIENT_ID, XMO_NEXTHINK_CLIENT_SECRET"),
        (
            {"XMO_NEXTHINK_URL": "https://acme.api.eu.nexthink.cloud"},
            "XMO_NEXTHINK_CLIENT_ID, XMO_NEXTHINK_CLIENT_SECRET",
        ),
        (
            {
                "XMO_NEXTHINK_URL": "https://acme.api.eu.nexthink.cloud",
                "XMO_NEXTHINK_CLIENT_ID": "x",
            },
            "XMO_NEXTHINK_CLIENT_SECRET to",
        ),
        (
            {
                "XMO_NEXTHINK_URL": "https://proxy.example.com",
                "XMO_NEXTHINK_CLIENT_ID": "x",
                "XMO_NEXTHINK_CLIENT_SECRET": "Nx-S3cret",
            },
            "XMO_NEXTHINK_TOKEN_URL (not derivable",
        ),
    ],
)
def test_pull_nexthink_without_its_settings_names_them(data_dir, capsys, monkeypatch, env, missing):
    for name in NEXTHINK_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["pull", "nexthink"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"set {missing}" in error and "Traceback" not in error
    assert "Nx-S3cret" not in error


def test_pull_nexthink_of_another_day_needs_the_day_parameter(data_dir, capsys, monkeypatch):
    for name in NEXTHINK_ENV:
        monkeypatch.delenv(name, raising=False)
    assert main(["pull", "nexthink", "--day", "2026-03-01"]) == EXIT_USAGE
    assert "XMO_NEXTHINK_DAY_PARAMETER" in capsys.readouterr().err
    assert main(["pull", "servicenow", "--day", "2026-03-01"]) == EXIT_USAGE
    assert "--day is for `xmo pull nexthink`" in capsys.readouterr().err


def test_pull_nexthink_writes_the_day_file_and_never_shows_the_secret(
    data_dir, capsys, monkeypatch
):
    from tests.fakes.nexthink import FakeNexthink

    headers = ["device_id", "employee_id", "device_type", "snapshot_date"]
    rows = [["D000001", "E000001", "laptop", "2026-03-02"]]
    for name in NEXTHINK_ENV:
        monkeypatch.delenv(name, raising=False)
    with FakeNexthink(headers, rows) as fake:
        monkeypatch.setenv("XMO_NEXTHINK_URL", fake.url)
        monkeypatch.setenv("XMO_NEXTHINK_TOKEN_URL", fake.token_url)
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_SECRET", fake.client_secret)
        monkeypatch.setenv("XMO_NEXTHINK_DAY_PARAMETER", "day")
        assert main(["pull", "nexthink", "--day", "2026-03-02"]) == 0
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_SECRET", "not-the-S3cret")
        assert main(["pull", "nexthink", "--day", "2026-03-02"]) == EXIT_RUN_FAILED
    captured = capsys.readouterr()
    assert fake.requests[0]["body"] == {
        "queryId": "#xmo_device_day",
        "parameters": {"day": "2026-03-02"},
    }
    assert "device/2026-03-02/nexthink.csv (1 rows)" in captured.out
    assert "Landing files written: 1" in captured.out
    assert (data_dir / "landing/device/2026-03-02/nexthink.csv").exists()
    assert "Nexthink pull stopped" in captured.err and "XMO_NEXTHINK_CLIENT_SECRET" in captured.err
    assert fake.client_secret not in captured.out + captured.err
    assert "not-the-S3cret" not in captured.out + captured.err


def test_report_before_anything_was_published_says_what_to_run(data_dir, capsys):
    assert main(["report", "weekly"]) == EXIT_RUN_FAILED
    error = capsys.readouterr().err
    assert "nothing published yet" in error and "xmo run" in error
    assert "Traceback" not in error


def test_report_rejects_a_malformed_period_before_running_anything(data_dir, capsys):
    assert main(["report", "weekly", "--week", "2026-47"]) == EXIT_USAGE
    assert "not an ISO week (YYYY-Www" in capsys.readouterr().err


def test_the_run_summary_counts_a_warning_apart_from_a_failed_gate():
    @dg.asset
    def mart() -> None:
        return None

    @dg.asset_check(asset=mart, blocking=False)
    def news(context) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    @dg.asset_check(asset=mart)
    def gate(context) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False)

    @dg.asset_check(asset=mart)
    def keys(context) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    summary = summarize(dg.materialize([mart, news, gate, keys], raise_on_error=False))
    assert summary.checks_warned == ["mart:news"]
    assert summary.checks_failed == ["mart:gate"]
    assert summary.checks_passed == ["mart:keys"]


def test_services_suggest_before_any_ticket_was_loaded_says_what_to_run(data_dir, capsys):
    assert main(["services", "suggest"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "no warehouse at" in error and "xmo run --all" in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xmo-demo-salt", "XMO_PSEUDONYM_SALT is the public default 'xmo-demo-salt'"),
        ("0123456789", "XMO_PSEUDONYM_SALT is 10 characters, too short"),
    ],
)
def test_a_public_or_short_pseudonym_key_is_refused_in_one_line(
    data_dir, capsys, monkeypatch, value, message
):
    monkeypatch.setenv("XMO_PSEUDONYM_SALT", value)
    assert main(["run", "--all"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"xmo: {message}") and len(error.strip().splitlines()) == 1
    assert "Traceback" not in error


def test_dashboard_refuses_a_port_that_is_not_one(data_dir, capsys):
    assert main(["dashboard", "--port", "70000"]) == EXIT_USAGE
    assert "--port must be a TCP port" in capsys.readouterr().err


def test_dashboard_serves_the_published_database_on_loopback_only(data_dir):
    reporting = data_dir / "reporting" / "xmo_reporting.duckdb"
    command, env = dashboard_command(reporting, 8765)
    assert command[1:3] == ["run", str(PROJECT_ROOT / "dashboard" / "app.py")]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8765",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "viewer",
    }
    assert env["XMO_REPORTING_PATH"] == str(reporting)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(PROJECT_ROOT)
