"""The persistent Dagster instance under the data dir, shared by `xmo` and the UI."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from orchestration.resources import WAREHOUSE_POOL
from orchestration.settings import Settings

DAGSTER_YAML = f"""\
# Written by xmo. DuckDB allows one writing process per file, so every step that writes
# the warehouse claims the `{WAREHOUSE_POOL}` pool, which has a single slot.
concurrency:
  pools:
    default_limit: 1
python_logs:
  managed_python_loggers: [ingestion, quality]
telemetry:
  enabled: false
"""


def ensure_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def get_instance(settings: Settings) -> dg.DagsterInstance:
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(settings))
    return dg.DagsterInstance.get()
