"""The dbt resource: what it tells dagster-dbt and how a run's window and parse state reach dbt."""

import os
import re
import subprocess
from types import SimpleNamespace

from orchestration.partitions import WINDOW_ENVIRONMENT
from orchestration.resources import VENV_DBT, XmoDbtCliResource, dbt_project, dbt_resource


def test_the_dbt_version_the_resource_reports_is_the_one_dbt_prints():
    resource = dbt_resource(dbt_project())
    assert resource.dbt_executable == str(VENV_DBT)
    printed = subprocess.run(
        [str(VENV_DBT), "--version"], capture_output=True, text=True, check=True
    ).stdout
    installed = re.search(r"installed:\s*(\d+\.\d+\.\d+)", printed)
    assert installed, printed
    assert str(resource._cli_version) == installed.group(1)


def test_the_window_reaches_dbt_in_the_environment_and_leaves_nothing_behind(monkeypatch):
    seen = {}

    def cli(self, args, *, context, raise_on_error):
        seen.update({name: os.environ.get(name) for name in WINDOW_ENVIRONMENT.values()})
        return "invocation"

    monkeypatch.setattr(XmoDbtCliResource, "cli", cli)
    # A stale value in the parent environment must not reach a run that names no window.
    monkeypatch.setenv("XMO_EXTRACT_DATE_FROM", "2020-01-01")
    resource = dbt_resource(dbt_project())
    window = {"extract_date_from": "2026-03-01", "extract_date_to": "2026-03-02"}

    assert resource.cli_for_window(["build"], window, context=None) == "invocation"
    assert seen == {"XMO_EXTRACT_DATE_FROM": "2026-03-01", "XMO_EXTRACT_DATE_TO": "2026-03-02"}
    resource.cli_for_window(["build"], {}, context=None)
    assert seen == {"XMO_EXTRACT_DATE_FROM": None, "XMO_EXTRACT_DATE_TO": None}
    assert os.environ["XMO_EXTRACT_DATE_FROM"] == "2020-01-01"
    assert "XMO_EXTRACT_DATE_TO" not in os.environ


def test_the_parse_state_of_an_invocation_becomes_the_next_ones(tmp_path):
    project = tmp_path / "project"
    (project / "target" / "run-1").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: probe\n")
    (project / "target" / "partial_parse.msgpack").write_bytes(b"from make manifest")
    (project / "target" / "run-1" / "partial_parse.msgpack").write_bytes(b"from run 1")
    resource = XmoDbtCliResource(project_dir=str(project), dbt_executable=str(VENV_DBT))

    kept = resource.keep_parse_state(SimpleNamespace(target_path=project / "target" / "run-1"))

    assert kept
    assert (project / "target" / "partial_parse.msgpack").read_bytes() == b"from run 1"
    assert sorted(p.name for p in (project / "target").iterdir()) == [  # no staged copy left
        "partial_parse.msgpack",
        "run-1",
    ]
    # An invocation that failed before dbt parsed leaves the shared state alone.
    (project / "target" / "run-2").mkdir()
    assert not resource.keep_parse_state(SimpleNamespace(target_path=project / "target" / "run-2"))
    assert (project / "target" / "partial_parse.msgpack").read_bytes() == b"from run 1"
