"""`xmo` answers a user's mistake with one clear line and exit code 2, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestration.cli import EXIT_RUN_FAILED, EXIT_USAGE, main


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


def test_report_before_anything_was_published_says_what_to_run(data_dir, capsys):
    assert main(["report", "weekly"]) == EXIT_RUN_FAILED
    error = capsys.readouterr().err
    assert "nothing published yet" in error and "xmo run" in error
    assert "Traceback" not in error


def test_report_rejects_a_malformed_period_before_running_anything(data_dir, capsys):
    assert main(["report", "weekly", "--week", "2026-47"]) == EXIT_USAGE
    assert "not an ISO week (YYYY-Www" in capsys.readouterr().err
