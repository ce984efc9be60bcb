"""The persistent Dagster instance under the data dir, shared by `xmo` and the UI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from orchestration.resources import WAREHOUSE_POOL
from orchestration.settings import POSTGRES_URL_ENV, Settings, SettingsError

MARK = "# Written by xmo (rewritten when xmo's version changes; remove this line to keep edits)."


class InstanceStorageError(SettingsError):
    """Dagster's storage cannot be reached; the message says where, never with the password."""


def dagster_yaml(home: Path, on_postgres: bool = False) -> str:
    """Our instance settings for `home`: runs, events and schedules in SQLite files under it, or
    in the PostgreSQL database XMO_DAGSTER_POSTGRES_URL names (read by Dagster from the
    environment of each process, so the password is in no file)."""
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
# A run whose process died (killed, out of memory) is marked failed by its code server, but the
# pool slot its running step claimed stays claimed: every later run would wait for the
# warehouse for ever. Run monitoring frees such slots once the run has ended.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 15
  # Should the code server die with the run, nothing marks the run failed (the default run
  # launcher cannot tell whether its process lives): it is failed, its slot freed, after 12 h.
  # Our longest run, a year's refresh of 100,000 employees, takes minutes.
  max_runtime_seconds: 43200
# Such a run is retried once, from the step it died in. A run that failed at a step or a gate
# is not retried: it alerts and waits for its cause to be fixed.
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
{_POSTGRES_STORAGE if on_postgres else _sqlite_storage(home)}"""


_POSTGRES_STORAGE = f"""\
# Runs, events and schedules in PostgreSQL, as production Dagster deployments keep them.
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_ENV}
"""


def _sqlite_storage(home: Path) -> str:
    return f"""\
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
    wanted = dagster_yaml(home, settings.dagster_on_postgres)
    if current is None or (current.startswith(MARK) and current != wanted):
        config.write_text(wanted)
    if settings.dagster_on_postgres:
        _check_postgres_reachable()
        _create_storage(home)
    elif not (home / "history" / "runs.db").exists():
        _create_storage(home)
    return home


def _check_postgres_reachable() -> None:
    """A clear error, before Dagster's retries and stack trace, when the server is not there.

    The URL is taken apart first and handed to the driver piece by piece: libpq quotes a URL it
    cannot parse in its error, password included."""
    import psycopg2
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = os.environ.get(POSTGRES_URL_ENV, "")
    if not raw:
        # Settings came from elsewhere than this process's environment, which Dagster reads.
        raise InstanceStorageError(f"{POSTGRES_URL_ENV} must be set in the environment")
    try:
        url = make_url(raw)
    except ArgumentError:
        raise InstanceStorageError(f"{POSTGRES_URL_ENV} cannot be parsed as a URL") from None
    where = f"{url.host}:{url.port or 5432}/{url.database}"
    try:
        psycopg2.connect(
            host=url.host,
            port=url.port or 5432,
            dbname=url.database,
            user=url.username,
            password=url.password,
            connect_timeout=10,
            **{key: str(value) for key, value in url.query.items()},
        ).close()
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if url.password:
            reason = reason.replace(url.password, "***")
        raise InstanceStorageError(
            f"cannot connect to Dagster's PostgreSQL ({POSTGRES_URL_ENV}: {where}): {reason}"
        ) from None


def _create_storage(home: Path) -> None:
    """Create (or, on PostgreSQL, check) the instance's tables before any Dagster process starts.

    The webserver and the daemon, started together on a new home, would both create the SQLite
    tables and one of them dies on "table jobs already exists".
    """
    with dg.DagsterInstance.from_config(str(home)):
        pass


def get_instance(settings: Settings) -> dg.DagsterInstance:
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(settings))
    return dg.DagsterInstance.get()
