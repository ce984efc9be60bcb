"""Pull changed tickets and the user directory from ServiceNow into the landing zone.

A pull writes exactly what a file drop would: Table API JSON in landing/itsm/<day>/<table>.json,
where the day is the UTC day of each record's sys_updated_on (the extract date), and a directory
snapshot in landing/directory/<day>/sys_user.csv. A watermark per table, stored after the files
are written, lets the next pull continue where this one ended; it restarts a few minutes early
(the overlap) so a record committed late is not missed, and records already landed are not
written twice.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ingestion.servicenow.client import ServiceNowClient, updated_on

log = logging.getLogger(__name__)

TICKET_TABLES = ("incident", "sc_req_item")
TICKET_FIELDS = [
    "sys_id",
    "number",
    "sys_class_name",
    "opened_at",
    "resolved_at",
    "closed_at",
    "sys_updated_on",
    "state",
    "priority",
    "contact_type",
    "business_service",
    "assignment_group",
    "caller_id",
    "location",
    "category",
    "subcategory",
    "cmdb_ci",
    "reassignment_count",
    "reopen_count",
    "made_sla",
    # Orders updates of a ticket that share one sys_updated_on second.
    "sys_mod_count",
]
USER_FIELDS = [
    "employee_number",
    "user_name",
    "email",
    "department",
    "country",
    "location",
    "title",
    "vip",
]
DIRECTORY_COLUMNS = [
    "employee_id",
    "department",
    "country",
    "location",
    "job_role",
    "vip",
    "user_principal_name",
]
TIMESTAMP = "%Y-%m-%d %H:%M:%S"


@dataclass
class PullResult:
    records: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    watermarks: dict[str, str] = field(default_factory=dict)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def load_watermarks(state_path: Path) -> dict[str, str]:
    if not state_path.exists():
        return {}
    return dict(json.loads(state_path.read_text(encoding="utf-8")))


def _merge_into_day_file(path: Path, records: list[dict[str, Any]]) -> None:
    """Add records to a day's file; a (sys_id, sys_updated_on) already there is kept once."""
    existing: list[dict[str, Any]] = []
    if path.exists():
        existing = json.loads(path.read_text(encoding="utf-8"))["result"]
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for record in [*existing, *records]:
        sys_id = record.get("sys_id")
        sys_id = sys_id.get("value") if isinstance(sys_id, dict) else sys_id
        merged[(str(sys_id), updated_on(record))] = record
    ordered = sorted(merged.items(), key=lambda item: (item[0][1], item[0][0]))
    _write_atomically(path, json.dumps({"result": [r for _, r in ordered]}))


def pull_tickets(
    client: ServiceNowClient,
    landing_dir: Path,
    state_path: Path,
    *,
    since: str | None = None,
    overlap: timedelta = timedelta(minutes=5),
    tables: tuple[str, ...] = TICKET_TABLES,
) -> PullResult:
    """Pull the tickets changed since each table's watermark (or `since` on a first pull)."""
    watermarks = load_watermarks(state_path)
    result = PullResult(watermarks=dict(watermarks))
    for table in tables:
        start = watermarks.get(table) or since
        if start:
            start = (datetime.strptime(start, TIMESTAMP) - overlap).strftime(TIMESTAMP)
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        count = 0
        latest = watermarks.get(table, "")
        for record in client.iter_records(table, start, TICKET_FIELDS):
            stamp = updated_on(record)
            by_day[stamp[:10]].append(record)
            latest = max(latest, stamp)
            count += 1
        for day, records in sorted(by_day.items()):
            path = landing_dir / "itsm" / day / f"{table}.json"
            _merge_into_day_file(path, records)
            result.files.append(path)
        result.records[table] = count
        if latest:
            result.watermarks[table] = latest
        log.info("%s: %s records since %s into %s day files", table, count, start, len(by_day))
    # Only after every file is in place: a pull that dies midway is simply repeated.
    _write_atomically(state_path, json.dumps(result.watermarks, indent=2, sort_keys=True))
    return result


def _display(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("display_value", value.get("value"))
    return "" if value is None else str(value)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value")
    return "" if value is None else str(value)


def _user_principal_name(user: dict[str, Any]) -> str:
    """The sign-in name device sources (Intune) know the user by: where ServiceNow's users come
    from Entra ID, `user_name` holds the user principal name, else the email usually equals it
    (docs/sources.md, directory)."""
    user_name = _value(user.get("user_name"))
    return user_name if "@" in user_name else _value(user.get("email"))


def pull_directory(client: ServiceNowClient, landing_dir: Path, extract_date: date) -> PullResult:
    """A full sys_user snapshot as the directory extract of `extract_date`."""
    path = landing_dir / "directory" / extract_date.isoformat() / "sys_user.csv"
    rows = []
    for user in client.iter_records("sys_user", None, USER_FIELDS):
        employee_id = _value(user.get("employee_number")) or _value(user.get("user_name"))
        rows.append(
            {
                "employee_id": employee_id,
                "department": _display(user.get("department")),
                "country": _value(user.get("country")),
                "location": _display(user.get("location")),
                "job_role": _display(user.get("title")),
                "vip": _value(user.get("vip")) or "false",
                "user_principal_name": _user_principal_name(user),
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    with staged.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, DIRECTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(staged, path)
    log.info("sys_user: %s users into %s", len(rows), path)
    return PullResult(records={"sys_user": len(rows)}, files=[path])
