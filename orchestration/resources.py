"""Resources: the XMO data directory and the dbt CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

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


def dbt_resource(project: DbtProject) -> DbtCliResource:
    # The venv's dbt, found beside this interpreter, even when the venv is not on PATH.
    dbt_executable = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(dbt_executable) if dbt_executable.exists() else "dbt",
    )
