"""Resources: the XMO data directory and the dbt CLI."""

from __future__ import annotations

import os
import sys
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from orchestration.settings import DBT_PROJECT_DIR, Settings

# Every process that writes the warehouse (ingestion, dbt) or needs it quiescent (publication)
# claims this pool; dagster.yaml gives it one slot because DuckDB allows one writer per file.
WAREHOUSE_POOL = "xmo_warehouse"


class XmoDataDir(dg.ConfigurableResource):
    """The XMO data directory and the paths under it (DESIGN §2)."""

    data_dir: str

    @property
    def settings(self) -> Settings:
        return Settings.from_env({"XMO_DATA_DIR": self.data_dir})

    def settings_from_environment(self) -> Settings:
        """Settings of this data dir with the rest of the process environment (URLs, salt)."""
        return Settings.from_env({**os.environ, "XMO_DATA_DIR": self.data_dir})

    @property
    def landing_dir(self) -> Path:
        return self.settings.landing_dir

    @property
    def warehouse_path(self) -> Path:
        return self.settings.warehouse_path


def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if not project.manifest_path.exists():
        # A fresh checkout has no manifest until `dbt parse` ran (make manifest does it too).
        project.preparer.prepare(project)
    return project


# The venv's dbt, found beside this interpreter, even when the venv is not on PATH.
VENV_DBT = Path(sys.executable).parent / "dbt"


class XmoDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI, told the version of the venv's dbt instead of asking it.

    dagster-dbt runs `dbt --version` in a subprocess before every dbt command, which costs
    about 5 s a run (dbt imports itself and asks PyPI for the latest release). When the
    executable is the venv's own, its version is the installed dbt-core's.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable) == VENV_DBT:
            return Version(version("dbt-core"))
        return super()._cli_version


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return XmoDbtCliResource(
        project_dir=project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(VENV_DBT) if VENV_DBT.exists() else "dbt",
    )
