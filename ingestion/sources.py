"""The four landing sources of DESIGN §3: their contracts and how their files are read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.contracts import Contract, Field, RowRule
from ingestion.mapping import SourceMapping
from ingestion.readers import stage_csv, stage_parquet, stage_servicenow_csv, stage_servicenow_json

# A reader stages one file and returns the SQL of its raw lines (None: staged rows carry them).
StageFn = Callable[[duckdb.DuckDBPyConnection, Path, Contract, str, SourceMapping], str | None]

SURVEY = Contract(
    source="survey",
    table="survey_responses",
    fields=(
        Field("response_id", required=True),
        Field("survey_type", required=True, allowed=("ticket", "proactive")),
        Field("ticket_number"),
        Field("topic"),
        Field("responded_at", "timestamp", required=True, not_future=True),
        Field("respondent_id", required=True, personal=True),
        Field("happiness", "integer", required=True, min_value=0, max_value=10),
        Field("lost_time_minutes", "integer", min_value=0),
        Field("factors"),
        Field("comment", personal=True),
        Field("language"),
    ),
    unique_key=("response_id",),
    row_rules=(
        RowRule(
            "lower(trim(survey_type)) = 'ticket' AND nullif(trim(ticket_number), '') IS NULL",
            "ticket survey without ticket_number",
        ),
        RowRule(
            "lower(trim(survey_type)) = 'proactive' AND nullif(trim(topic), '') IS NULL",
            "proactive survey without topic",
        ),
    ),
)

ITSM = Contract(
    source="itsm",
    table="itsm_tickets",
    fields=(
        Field("sys_id", required=True),
        Field("number", required=True),
        Field("sys_class_name", required=True, allowed=("incident", "sc_req_item")),
        Field("opened_at", "timestamp", required=True, not_future=True),
        Field("resolved_at", "timestamp", not_future=True),
        Field("closed_at", "timestamp", not_future=True),
        Field("sys_updated_on", "timestamp", required=True, not_future=True),
        Field("state", required=True),
        Field("priority", allowed=("1", "2", "3", "4", "5")),
        Field("contact_type"),
        Field("business_service"),
        Field("assignment_group"),
        Field("caller_id", personal=True),
        Field("location"),
        Field("category"),
        # What XMOs define services by when a ticket has no business service (mapping rules).
        Field("subcategory"),
        Field("cmdb_ci"),
        Field("reassignment_count", "integer", min_value=0),
        Field("reopen_count", "integer", min_value=0),
        Field("made_sla", "boolean"),
        # ServiceNow's update counter: orders the updates of one ticket within one timestamp.
        Field("sys_mod_count", "integer", min_value=0),
    ),
    # A ticket appears once per change. Event-log exports hold several updates of a ticket in
    # one minute: rows of one sys_id and sys_updated_on that differ are versions (the later one
    # wins in staging); an identical copy is a duplicate.
    unique_key=("sys_id", "sys_updated_on"),
    key_shared_by_versions=True,
    row_rules=(
        RowRule(
            "try_cast(nullif(trim(resolved_at), '') AS TIMESTAMPTZ)"
            " < try_cast(nullif(trim(opened_at), '') AS TIMESTAMPTZ)",
            "resolved_at before opened_at",
        ),
        RowRule(
            "try_cast(nullif(trim(closed_at), '') AS TIMESTAMPTZ)"
            " < try_cast(nullif(trim(opened_at), '') AS TIMESTAMPTZ)",
            "closed_at before opened_at",
        ),
    ),
)

DIRECTORY = Contract(
    source="directory",
    table="directory_employees",
    fields=(
        Field("employee_id", required=True, personal=True),
        Field("department"),
        Field("country"),
        Field("location"),
        Field("job_role"),
        Field("vip", "boolean"),
        # How device sources that know no employee number (Intune) name the device's user.
        Field("user_principal_name", personal=True),
    ),
    unique_key=("employee_id",),
)

_PERCENT = {"min_value": 0, "max_value": 100}
DEVICE = Contract(
    source="device",
    table="device_snapshots",
    fields=(
        Field("device_id", required=True),
        # One of the two names the device's user: the employee id, or a user principal name
        # (Intune) that the directory's user_principal_name turns into the employee.
        Field("employee_id", personal=True),
        Field("user_principal_name", personal=True),
        Field("snapshot_date", "date", required=True, not_future=True),
        Field("device_type", required=True, allowed=("laptop", "desktop", "virtual")),
        Field("model"),
        Field("os_version"),
        Field("boot_duration_s", "double", min_value=0),
        Field("logon_duration_s", "double", min_value=0),
        Field("app_crashes", "integer", min_value=0),
        Field("app_freezes", "integer", min_value=0),
        Field("system_crashes", "integer", min_value=0),
        Field("cpu_saturation_pct", "double", **_PERCENT),
        Field("memory_saturation_pct", "double", **_PERCENT),
        Field("disk_free_pct", "double", **_PERCENT),
        Field("battery_health_pct", "double", **_PERCENT),
        Field("network_latency_ms", "double", min_value=0),
        # Rolling 30-day totals, as Intune's endpoint analytics reports them instead of the
        # day's counts; staging turns them into per-day counts (docs/metrics.md).
        Field("app_crashes_30d", "integer", min_value=0),
        Field("app_freezes_30d", "integer", min_value=0),
        Field("system_crashes_30d", "integer", min_value=0),
    ),
    unique_key=("device_id", "snapshot_date"),
    required_one_of=(("employee_id", "user_principal_name"),),
    row_rules=(
        RowRule(
            "nullif(trim(employee_id), '') IS NULL"
            " AND nullif(trim(user_principal_name), '') IS NULL",
            "device without employee_id or user_principal_name",
        ),
    ),
)


@dataclass(frozen=True)
class Source:
    """A landing source: its contract and a reader per file suffix."""

    contract: Contract
    readers: dict[str, StageFn]

    @property
    def name(self) -> str:
        return self.contract.source

    def files_in(self, folder: Path) -> list[Path]:
        """The files of one extract folder this source can read, in a stable order."""
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in self.readers
        )


SOURCES: dict[str, Source] = {
    "survey": Source(SURVEY, {".csv": stage_csv}),
    "itsm": Source(ITSM, {".json": stage_servicenow_json, ".csv": stage_servicenow_csv}),
    "directory": Source(DIRECTORY, {".csv": stage_csv}),
    "device": Source(DEVICE, {".parquet": stage_parquet, ".csv": stage_csv}),
}
