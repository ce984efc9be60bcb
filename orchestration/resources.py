"""Resources: the XMO data directory and the dbt CLI."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from packaging.version import Version

from orchestration.dbt_in_process import dbt_in_this_process
from orchestration.partitions import WINDOW_ENVIRONMENT
from orchestration.settings import DBT_PROJECT_DIR, Settings
from quality.spark_catalog import write_spark_catalog

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

    def refresh_spark_catalog(self) -> int | None:
        """On a Spark target, rewrite the DuckDB views over Spark's tables and the raw Parquet
        that readers open instead of the warehouse (Settings.models_path); None elsewhere."""
        settings = self.settings_from_environment()
        if not settings.on_spark:
            return None
        return write_spark_catalog(
            settings.spark_catalog_path, settings.spark_warehouse_dir, settings.raw_parquet_dir
        )

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


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


class XmoDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI, with what a run of ours costs in start-up taken out.

    - It is told the version of the venv's dbt instead of running `dbt --version` (~5 s a run:
      dbt imports itself and asks PyPI for the latest release).
    - It builds no in-process dbt adapter: dagster-dbt uses it only for row counts and column
      metadata fetched after the build, which the pipeline profiles itself, and building it
      loads the dbt project in this process (~2 s).
    - `cli_for_window` hands the run's extract window to dbt in the environment and keeps the
      parse state dbt wrote, so the next run parses only what changed.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable) == VENV_DBT:
            return Version(version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None

    def cli_for_window(
        self,
        args: Sequence[str],
        window: Mapping[str, str],
        context: dg.AssetExecutionContext,
        environment: Mapping[str, str] | None = None,
        in_process: bool = False,
    ) -> DbtCliInvocation:
        """`dbt <args>` for the extract dates of `window` (all new ones when it is empty), with
        `environment` (the pseudonym key, XMO_REBUILD_MARTS) in dbt's environment only; in this
        process when `in_process` (orchestration/dbt_in_process.py), else in a dbt process."""
        window_env = {WINDOW_ENVIRONMENT[key]: value for key, value in window.items()}
        with (
            _in_environment({**window_env, **(environment or {})}, [*WINDOW_ENVIRONMENT.values()]),
            dbt_in_this_process() if in_process else nullcontext(),
        ):
            return self.cli(list(args), context=context, raise_on_error=False)

    def keep_parse_state(self, invocation: DbtCliInvocation) -> bool:
        """Make the parse state of a finished invocation the one the next invocation starts from.

        dagster-dbt gives every invocation its own target folder and seeds it with the project
        target's partial_parse.msgpack; without this the next run would start from what
        `make manifest` parsed, under another profile, and re-parse everything. dbt checks the
        file against the project, profile and vars before trusting it. Best effort: a read-only
        project (a container image) just parses in full.
        """
        produced = invocation.target_path / PARTIAL_PARSE_FILE
        # Where dagster-dbt looks for it: the project's target path (absolute if so configured).
        shared = (
            Path(self.project_dir)
            / os.environ.get("DBT_TARGET_PATH", "target")
            / PARTIAL_PARSE_FILE
        )
        if not produced.exists():
            return False
        staged = shared.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
        try:
            shutil.copyfile(produced, staged)
            os.replace(staged, shared)  # atomic: a starting invocation never reads half a file
        except OSError:
            staged.unlink(missing_ok=True)
            return False
        return True


@contextmanager
def _in_environment(variables: Mapping[str, str], cleared: Sequence[str]) -> Iterator[None]:
    """`variables` in os.environ (and none of `cleared` left over from before) while dbt is
    started; restored after, so a secret stays only in the dbt process's environment.

    dagster-dbt starts dbt with a copy of this process's environment, and a run's steps execute
    one at a time in this process (the in-process executor), so nothing else sees the change.
    dbt in this process gets the same copy, set in os.environ only while it builds.
    """
    names = list(dict.fromkeys([*cleared, *variables]))
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update({name: value for name, value in saved.items() if value is not None})


def dbt_resource(project: DbtProject) -> XmoDbtCliResource:
    return XmoDbtCliResource(
        project_dir=project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(VENV_DBT) if VENV_DBT.exists() else "dbt",
    )
