"""The dbt resource knows the venv's dbt version without running `dbt --version` each run."""

import re
import subprocess

from orchestration.resources import VENV_DBT, dbt_project, dbt_resource


def test_the_dbt_version_the_resource_reports_is_the_one_dbt_prints():
    resource = dbt_resource(dbt_project())
    assert resource.dbt_executable == str(VENV_DBT)
    printed = subprocess.run(
        [str(VENV_DBT), "--version"], capture_output=True, text=True, check=True
    ).stdout
    installed = re.search(r"installed:\s*(\d+\.\d+\.\d+)", printed)
    assert installed, printed
    assert str(resource._cli_version) == installed.group(1)
