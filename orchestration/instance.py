"""The persistent Dagster instance under the data dir, shared by `xmo` and the UI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from orchestration.resources import WAREHOUSE_POOL
from orchestration.settings import Settings

MARK = "# Written by xmo (rewritten when xmo's version changes; remove this line to keep edits)."


def dagster_yaml(home: Path) -> str:
    """Our instance settings for `home` (its event log lives in its own history/runs folder)."""
    return f"""\
{MARK}
# DuckDB allows one writing process per file, so every step that writes the warehouse
# claims the `{WAREHOUSE_POOL}` pool, which has a single slot.
concurrency:
  pools:
    default_limit: 1
python_logs:
  managed_python_loggers: [ingestion, quality]
# Freshness policies on the published marts and packs (DESIGN §2) are evaluated by the daemon.
freshness:
  enabled: true
telemetry:
  enabled: false
# Dagster's SQLite event log (the same files), writing the materializations of a multi-partition
# step in one transaction (orchestration/event_storage.py).
event_log_storage:
  module: orchestration.event_storage
  class: BatchingSqliteEventLogStorage
  config:
    base_dir: {json.dumps(str(home / "history" / "runs") + os.sep)}
"""


def ensure_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # Ours is kept current; a dagster.yaml a person wrote (without the mark) is left alone.
    current = config.read_text() if config.exists() else None
    wanted = dagster_yaml(home)
    if current is None or (current.startswith(MARK) and current != wanted):
        config.write_text(wanted)
    if not (home / "history" / "runs.db").exists():
        _create_storage(home)
    return home


def _create_storage(home: Path) -> None:
    """Create the instance's tables once, before any Dagster process starts.

    The webserver and the daemon, started together on a new home, would both create the SQLite
    tables and one of them dies on "table jobs already exists".
    """
    with dg.DagsterInstance.from_config(str(home)):
        pass


def get_instance(settings: Settings) -> dg.DagsterInstance:
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(settings))
    return dg.DagsterInstance.get()
