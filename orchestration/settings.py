"""The one place the environment is read. Every path and option has a default that works."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestion.declared_sources import (
    ALL_SOURCES,
    DAILY_SOURCES,
    ENVIRONMENT_VARIABLE,
    SOURCES_FILE,
    DeclaredSourcesError,
    parse_sources_text,
    read_sources_file,
)
from ingestion.pseudonym_key import PseudonymKeyError, environment_key, key_path
from ingestion.warehouse import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_ENV

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PROJECT_SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


class SettingsError(ValueError):
    """An XMO_* variable with a value that cannot be used; the message names it."""


def _parse(env: Mapping[str, str], name: str, default: str, parse, expected: str):
    raw = env.get(name) or default
    try:
        return parse(raw)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        raise SettingsError(f"{name}={raw!r} is not {expected}") from None


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(raw)
    return value


def _memory_size(raw: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", raw.strip(), re.I):
        raise ValueError(raw)
    return raw.strip()


def _timezone(raw: str) -> str:
    ZoneInfo(raw)
    return raw


def _switch(raw: str) -> bool:
    return {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}[
        raw.lower()
    ]


def _token_encoding(raw: str) -> str:
    if raw not in ("base64", "plain"):
        raise ValueError(raw)
    return raw


def _nql_parameter(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", raw):
        raise ValueError(raw)
    return raw


# How `xmo pull nexthink` asks Nexthink (ingestion/nexthink/client.py METHODS): `auto` runs the
# execute endpoint and, when its answer reaches the 1,000-row limit, the export instead.
NEXTHINK_METHODS = ("auto", "execute", "export")


def _nexthink_method(raw: str) -> str:
    if raw.strip().lower() not in NEXTHINK_METHODS:
        raise ValueError(raw)
    return raw.strip().lower()


# The dbt targets of dbt_project/profiles.yml; the same models build on each: DuckDB, Spark in
# the dbt process (local mode), Spark on a cluster through its Thrift server.
DBT_TARGETS = ("duckdb", "spark", "spark_thrift")


def _absolute_path(raw: str) -> Path | None:
    if raw and not Path(raw).is_absolute():
        raise ValueError(raw)
    return Path(raw) if raw else None


def _dbt_target(raw: str) -> str:
    if raw not in DBT_TARGETS:
        raise ValueError(raw)
    return raw


# Where a production instance keeps Dagster's storage (docs/deploy.md, "Dagster's storage").
POSTGRES_URL_ENV = "XMO_DAGSTER_POSTGRES_URL"


def _postgres_url(raw: str) -> bool:
    """Whether a PostgreSQL URL is set; it must name psycopg2, the driver dagster-postgres
    installs: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed."""
    if not raw.strip():
        return False
    if not re.fullmatch(r"postgresql\+psycopg2://[^/\s]+/[^/\s?]+(\?\S*)?", raw):
        # The message names the variable, never its value: it holds a password.
        raise SettingsError(
            f"{POSTGRES_URL_ENV} is not a URL such as "
            "postgresql+psycopg2://user:password@host:5432/dagster (its value is not shown; "
            "the scheme names the psycopg2 driver: a bare postgresql:// means psycopg 3 to "
            "SQLAlchemy 2.1, which is not installed)"
        )
    return True


def declared_sources(env: Mapping[str, str], data_dir: Path) -> tuple[str, ...]:
    """The organisation's sources: XMO_SOURCES, else the data dir's sources.yml, else all four."""
    try:
        if env.get(ENVIRONMENT_VARIABLE, "").strip():
            return parse_sources_text(env[ENVIRONMENT_VARIABLE], ENVIRONMENT_VARIABLE)
        return read_sources_file(data_dir / SOURCES_FILE) or ALL_SOURCES
    except DeclaredSourcesError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    """Configuration of one XMO data directory (DESIGN §2 paths) and its automation."""

    data_dir: Path
    partitions_start: date
    dbt_target: str
    # The landing sources the organisation delivers (ingestion/declared_sources.py).
    sources: tuple[str, ...] = ALL_SOURCES
    servicenow_url: str | None = None
    # HappySignals API v2: the base URL up to /api/v2, and the parts its public description
    # leaves open (docs/sources.md, "HappySignals pull"); the token is read only when pulling.
    happysignals_url: str | None = None
    happysignals_endpoint: str = "responses"
    happysignals_updated_field: str = "updated_at"
    happysignals_page_param: str = "page"
    happysignals_token_encoding: str = "base64"
    # Nexthink NQL API: the instance's API host and the saved query's id (docs/sources.md,
    # "Nexthink pull"). The token URL, when empty, is derived from the host; the query id and
    # API version are checked when pulling. `nexthink_day_parameter` names the NQL parameter
    # the saved query takes the day from; without it the query describes yesterday and only
    # yesterday can be pulled. The client id and secret are read only when pulling.
    nexthink_url: str | None = None
    nexthink_token_url: str | None = None
    nexthink_query_id: str = "#xmo_device_day"
    nexthink_api_version: str = "v1"
    nexthink_day_parameter: str | None = None
    # `auto` (execute, then the export when execute's answer reaches its 1,000-row limit),
    # `execute` or `export`; and the longest wait for an export's results file, in seconds.
    nexthink_method: str = "auto"
    nexthink_export_timeout_s: int = 1800
    # Microsoft Intune endpoint analytics through Microsoft Graph (docs/sources.md, "Microsoft
    # Intune pull"): the tenant, Graph's service root and the token endpoint (derived from the
    # tenant and the Graph host when empty). The app registration's client id and secret are
    # read only when pulling.
    intune_tenant_id: str | None = None
    intune_graph_url: str = "https://graph.microsoft.com"
    intune_token_url: str | None = None
    # Experience thresholds handed to dbt as vars (DESIGN §4 metric definitions).
    min_responses: int = 5
    baseline_weeks: int = 12
    # Automation: when the daily run starts (in `timezone`), when a landing folder counts as
    # complete, where alerts go, and whether schedules and sensors start switched on.
    timezone: str = "UTC"
    daily_run_at: time = time(6, 0)
    landing_settle_seconds: int = 300
    # How often the landing sensor looks (the daemon may look a little later, never sooner).
    landing_poll_seconds: int = 60
    alert_webhook: str | None = None
    # Experience-drop alerts go here; unset, they go to alert_webhook (experience_alerts_webhook).
    experience_webhook: str | None = None
    ui_url: str = "http://127.0.0.1:3000"
    # Base URL where reports/ is served; unset, alerts link to the packs as file:// URIs.
    reports_url: str | None = None
    automation_on: bool = False
    # DuckDB's memory limit for the loads and dbt (it spills to disk beyond it).
    duckdb_memory_limit: str = DEFAULT_MEMORY_LIMIT
    # Spark's warehouse, when not the data dir's: a cluster's spark.sql.warehouse.dir, mounted
    # here at the same path (docs/deploy.md).
    spark_warehouse: Path | None = None
    # Dagster's runs, events and schedules in PostgreSQL (XMO_DAGSTER_POSTGRES_URL, read by
    # Dagster itself from the environment: its password is never held here); else SQLite files
    # under dagster_home.
    dagster_on_postgres: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("XMO_DATA_DIR") or PROJECT_ROOT / "data").expanduser()
        if not data_dir.is_absolute():
            data_dir = Path.cwd() / data_dir
        data_dir = data_dir.resolve()
        try:
            # A key the environment gives is checked now (the data dir's is read when a run
            # needs it, and never held here: settings appear in reprs and logs).
            environment_key(env)
        except PseudonymKeyError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            data_dir=data_dir,
            sources=declared_sources(env, data_dir),
            # The first day a daily partition can exist; older extracts need an earlier start.
            partitions_start=date.fromisoformat(env.get("XMO_PARTITIONS_START", "2024-01-01")),
            dbt_target=_parse(
                env, "XMO_DBT_TARGET", "duckdb", _dbt_target, " or ".join(DBT_TARGETS)
            ),
            # Credentials stay in the environment (XMO_SERVICENOW_USER / _PASSWORD), read only
            # by the client when it pulls, never copied into settings, logs or metadata.
            servicenow_url=env.get("XMO_SERVICENOW_URL") or None,
            happysignals_url=env.get("XMO_HAPPYSIGNALS_URL") or None,
            happysignals_endpoint=env.get("XMO_HAPPYSIGNALS_ENDPOINT") or "responses",
            happysignals_updated_field=env.get("XMO_HAPPYSIGNALS_UPDATED_FIELD") or "updated_at",
            happysignals_page_param=env.get("XMO_HAPPYSIGNALS_PAGE_PARAM") or "page",
            happysignals_token_encoding=_parse(
                env,
                "XMO_HAPPYSIGNALS_TOKEN_ENCODING",
                "base64",
                _token_encoding,
                "base64 or plain",
            ),
            nexthink_url=env.get("XMO_NEXTHINK_URL") or None,
            nexthink_token_url=env.get("XMO_NEXTHINK_TOKEN_URL") or None,
            nexthink_query_id=env.get("XMO_NEXTHINK_QUERY_ID") or "#xmo_device_day",
            nexthink_api_version=env.get("XMO_NEXTHINK_API_VERSION") or "v1",
            nexthink_day_parameter=_parse(
                env,
                "XMO_NEXTHINK_DAY_PARAMETER",
                "",
                lambda raw: _nql_parameter(raw) if raw else None,
                "an NQL parameter name (letters, digits, _)",
            ),
            nexthink_method=_parse(
                env,
                "XMO_NEXTHINK_METHOD",
                "auto",
                _nexthink_method,
                " or ".join(", ".join(NEXTHINK_METHODS).rsplit(", ", 1)),
            ),
            nexthink_export_timeout_s=_parse(
                env,
                "XMO_NEXTHINK_EXPORT_TIMEOUT_S",
                "1800",
                _positive_int,
                "a number of seconds ≥ 1",
            ),
            intune_tenant_id=(env.get("XMO_INTUNE_TENANT_ID") or "").strip() or None,
            intune_graph_url=(env.get("XMO_INTUNE_GRAPH_URL") or "").strip()
            or "https://graph.microsoft.com",
            intune_token_url=(env.get("XMO_INTUNE_TOKEN_URL") or "").strip() or None,
            min_responses=_parse(env, "XMO_MIN_RESPONSES", "5", _positive_int, "an integer ≥ 1"),
            baseline_weeks=_parse(env, "XMO_BASELINE_WEEKS", "12", _positive_int, "an integer ≥ 1"),
            timezone=_parse(env, "XMO_TIMEZONE", "UTC", _timezone, "an IANA time zone"),
            daily_run_at=_parse(env, "XMO_DAILY_RUN_AT", "06:00", time.fromisoformat, "HH:MM"),
            landing_settle_seconds=_parse(
                env, "XMO_LANDING_SETTLE_SECONDS", "300", int, "a number of seconds"
            ),
            landing_poll_seconds=_parse(
                env, "XMO_LANDING_POLL_SECONDS", "60", _positive_int, "a number of seconds ≥ 1"
            ),
            alert_webhook=env.get("XMO_ALERT_WEBHOOK") or None,
            experience_webhook=env.get("XMO_EXPERIENCE_WEBHOOK") or None,
            ui_url=(
                env.get("XMO_UI_URL") or f"http://127.0.0.1:{env.get('XMO_UI_PORT') or '3000'}"
            ).rstrip("/"),
            reports_url=(env.get("XMO_REPORTS_URL") or "").rstrip("/") or None,
            automation_on=_parse(env, "XMO_AUTOMATION", "off", _switch, "on or off"),
            duckdb_memory_limit=_parse(
                env, MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT, _memory_size, "a size such as 3GB"
            ),
            spark_warehouse=_parse(
                env, "XMO_SPARK_WAREHOUSE_DIR", "", _absolute_path, "an absolute path"
            ),
            dagster_on_postgres=_postgres_url(env.get(POSTGRES_URL_ENV) or ""),
        )

    def reread(self) -> Settings:
        """These settings as the environment and the data dir's files say now: a long-lived
        process (the daemon's sensor) sees a changed sources.yml without a reload."""
        return Settings.from_env({**os.environ, "XMO_DATA_DIR": str(self.data_dir)})

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def sources_file(self) -> Path:
        """Where a data dir declares its sources when XMO_SOURCES is not set."""
        return self.data_dir / SOURCES_FILE

    @property
    def undeclared_sources(self) -> tuple[str, ...]:
        """The sources the organisation does not deliver: loaded as empty, never waited for."""
        return tuple(name for name in ALL_SOURCES if name not in self.sources)

    @property
    def daily_sources(self) -> tuple[str, ...]:
        """The declared sources that deliver an extract every day (what a day waits for)."""
        return tuple(name for name in DAILY_SOURCES if name in self.sources)

    @property
    def pseudonym_key_path(self) -> Path:
        """The installation's secret pseudonym key, unless XMO_PSEUDONYM_SALT gives one
        (ingestion/pseudonym_key.py): back it up, it is what keeps pseudonyms stable."""
        return key_path(self.data_dir)

    @property
    def build_state_path(self) -> Path:
        """What the working warehouse was last built with (orchestration/build_state.py)."""
        return self.data_dir / "state" / "warehouse_build.json"

    @property
    def reference_dir(self) -> Path:
        """Organisation reference data that overrides the project's seeds, when present."""
        return self.data_dir / "reference"

    @property
    def servicenow_state_path(self) -> Path:
        """Watermarks of the ServiceNow pull, per table."""
        return self.data_dir / "state" / "servicenow_watermarks.json"

    @property
    def happysignals_state_path(self) -> Path:
        """Watermark of the HappySignals pull, per endpoint."""
        return self.data_dir / "state" / "happysignals_watermark.json"

    @property
    def draft_rules_path(self) -> Path:
        """Where `xmo services suggest` writes its draft (outside reference/: not a seed yet)."""
        return self.data_dir / "drafts" / "service_mapping_rules.csv"

    @property
    def mappings_dir(self) -> Path:
        """Export mappings (<source>.yml) laid over ingestion/mappings/."""
        return self.data_dir / "mappings"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "xmo.duckdb"

    @property
    def reporting_path(self) -> Path:
        return self.data_dir / "reporting" / "xmo_reporting.duckdb"

    @property
    def reporting_parquet_dir(self) -> Path:
        return self.data_dir / "reporting" / "parquet"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def quality_dir(self) -> Path:
        """GX project, validation history and Data Docs (quality/docs/index.html)."""
        return self.data_dir / "quality"

    @property
    def gates_path(self) -> Path:
        """The data dir's gates.yml, laid over quality/gates.yml."""
        return self.quality_dir / "gates.yml"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def staged_seeds_dir(self) -> Path:
        """Where the effective seed folder for this data dir is assembled, inside dbt's target.

        dbt writes each seed's compiled SQL to target/run/<project>/<seed path>; a seed path
        outside the project would make that the seed file itself, so seeds must stay inside.
        """
        key = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return DBT_PROJECT_DIR / "target" / "xmo_reference" / key

    @property
    def alerts_log(self) -> Path:
        """One line per failed run, whatever else alerting does (a webhook)."""
        return self.data_dir / "alerts" / "alerts.log"

    @property
    def experience_alerts_log(self) -> Path:
        """One line per experience-drop alert, written once (reporting/experience_alerts.py)."""
        return self.data_dir / "alerts" / "experience.log"

    @property
    def experience_alerts_ledger(self) -> Path:
        """The experience-drop alerts already raised, so that a re-run does not repeat them."""
        return self.data_dir / "alerts" / "experience_alerted.json"

    @property
    def experience_alerts_webhook(self) -> str | None:
        """Where experience-drop alerts are posted: their own webhook, else the run alerts'."""
        return self.experience_webhook or self.alert_webhook

    @property
    def raw_parquet_dir(self) -> Path:
        """Raw partitions as Parquet (ingestion/raw_parquet.py), written for the Spark target."""
        return self.data_dir / "warehouse" / "raw_parquet"

    @property
    def spark_warehouse_dir(self) -> Path:
        """Spark's tables (Parquet); in local mode its metastore lives beside them."""
        return self.spark_warehouse or self.data_dir / "spark" / "warehouse"

    @property
    def spark_catalog_path(self) -> Path:
        """DuckDB views over the Spark build and the raw Parquet (quality/spark_catalog.py)."""
        return self.data_dir / "spark" / "catalog.duckdb"

    @property
    def models_path(self) -> Path:
        """The database file the gates, table profiles and publication read dbt's tables from."""
        return self.spark_catalog_path if self.on_spark else self.warehouse_path

    @property
    def on_spark(self) -> bool:
        """dbt builds on Spark (either Spark target): its tables are Parquet in its warehouse."""
        return self.dbt_target.startswith("spark")

    @property
    def writes_raw_parquet(self) -> bool:
        """Spark reads the raw tables from Parquet files; DuckDB reads its own warehouse."""
        return self.on_spark

    def dbt_vars(self) -> dict[str, int]:
        """Thresholds every dbt build gets (dbt_project.yml holds the same defaults)."""
        return {"min_responses": self.min_responses, "baseline_weeks": self.baseline_weeks}

    def dbt_environment(self) -> dict[str, str]:
        """Variables profiles.yml and dbt_project.yml read."""
        return {
            "XMO_WAREHOUSE_PATH": str(self.warehouse_path),
            "XMO_DBT_TARGET": self.dbt_target,
            "XMO_RAW_PARQUET_DIR": str(self.raw_parquet_dir),
            "XMO_SPARK_WAREHOUSE_DIR": str(self.spark_warehouse_dir),
            MEMORY_LIMIT_ENV: self.duckdb_memory_limit,
            "XMO_REFERENCE_DIR": str(self.staged_seeds_dir.relative_to(DBT_PROJECT_DIR)),
            # A run that builds part of the graph (a backfill runs staging and marts apart) must
            # not run a test whose other parents are not rebuilt yet: the reconciliations read
            # staging and marts together and would compare new staging with old marts.
            "DBT_INDIRECT_SELECTION": "cautious",
        }

    def export_dbt_environment(self) -> None:
        """dbt runs as a subprocess that inherits this process's environment."""
        os.environ.update(self.dbt_environment())


def stage_reference_seeds(settings: Settings) -> Path:
    """Assemble the seed folder dbt reads: the project's seeds, overlaid by the data dir's."""
    target = settings.staged_seeds_dir
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for source_dir in (PROJECT_SEEDS_DIR, settings.reference_dir):
        if source_dir.is_dir():
            for csv_file in sorted(source_dir.glob("*.csv")):
                shutil.copyfile(csv_file, target / csv_file.name)
    return target
