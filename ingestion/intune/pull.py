"""Pull today's Intune endpoint analytics snapshot into the landing zone as one device day.

Endpoint analytics describes each device by rolling figures (blue screens, app crashes and hangs
over the last 30 days; boot and sign-in times), recomputed by Intune about once a day; Graph
keeps no history of them. So a pull lands the snapshot Graph answers now as the device extract
of one day, landing/device/<day>/intune.csv, and only the latest day can be pulled. Staging
turns consecutive daily snapshots into per-day counts (docs/metrics.md).

One row per device of userExperienceAnalyticsDevicePerformance, joined by the Intune device id
with the device's user (managedDevices), its app health and, where the tenant offers the beta
resource, its battery health. The smaller joined collections are read first into dicts; the
device performance pages are then written to the file as they arrive.

The file is written aside and renamed over the day's file, so a pull that fails at any point
leaves the landing zone exactly as it was, and pulling the day again replaces its file.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ingestion.intune.client import IntuneClient, ResourceUnavailable

log = logging.getLogger(__name__)

FILE_NAME = "intune.csv"
SOURCE_DIR = "device"

# The landing file's columns, in this order (the device staging reads them by name).
COLUMNS = (
    "device_id",
    "user_principal_name",
    "snapshot_date",
    "device_type",
    "model",
    "os_version",
    "boot_duration_s",
    "logon_duration_s",
    "app_crashes_30d",
    "app_freezes_30d",
    "system_crashes_30d",
    "battery_health_pct",
)

MANAGED_DEVICES = "v1.0/deviceManagement/managedDevices"
DEVICE_PERFORMANCE = "v1.0/deviceManagement/userExperienceAnalyticsDevicePerformance"
APP_HEALTH = "v1.0/deviceManagement/userExperienceAnalyticsAppHealthDevicePerformance"
BATTERY_HEALTH = "beta/deviceManagement/userExperienceAnalyticsBatteryHealthDevicePerformance"

# The properties read from each collection ($select), the device id first.
MANAGED_DEVICE_FIELDS = ("id", "userPrincipalName")
DEVICE_PERFORMANCE_FIELDS = (
    "id",
    "model",
    "manufacturer",
    "operatingSystemVersion",
    "coreBootTimeInMs",
    "groupPolicyBootTimeInMs",
    "coreLoginTimeInMs",
    "groupPolicyLoginTimeInMs",
    "blueScreenCount",
)
APP_HEALTH_FIELDS = ("deviceId", "appCrashCount", "appHangCount")
BATTERY_FIELDS = ("deviceId", "maxCapacityPercentage")

# device_type (an assumption, docs/sources.md): a model or manufacturer naming a hypervisor or
# a cloud PC is virtual; a device with a battery record, or whose model names a laptop line, is
# a laptop; anything else a desktop.
VIRTUAL = re.compile(
    r"\bvirtual\b|vmware|virtualbox|innotek|cloud pc|parallels|qemu|\bkvm\b|\bxen\b|"
    r"hvm domu|amazon ec2|google compute engine",
    re.IGNORECASE,
)
LAPTOP = re.compile(
    r"\blaptop\b|notebook|book\b|thinkpad|ideapad|latitude|surface (pro|laptop|go|book)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class IntunePullResult:
    day: date
    rows: int
    file: Path
    devices_without_user: int
    battery: bool  # whether the tenant answered the (beta) battery health collection
    battery_note: str | None = None  # why not, when it did not
    duplicates: int = 0  # device performance records of a device already landed (skipped)

    @property
    def files(self) -> list[Path]:
        return [self.file]


def device_landing_path(landing_dir: Path, day: date) -> Path:
    return landing_dir / SOURCE_DIR / day.isoformat() / FILE_NAME


def pull_device_snapshot(client: IntuneClient, landing_dir: Path, day: date) -> IntunePullResult:
    """Land the tenant's current endpoint analytics as the device extract of `day`."""
    users = _by_device(client, MANAGED_DEVICES, MANAGED_DEVICE_FIELDS, "id", _user)
    app_health = _by_device(client, APP_HEALTH, APP_HEALTH_FIELDS, "deviceId", _app_counts)
    battery_note = None
    try:
        battery: dict[str, int | None] | None = _by_device(
            client, BATTERY_HEALTH, BATTERY_FIELDS, "deviceId", _battery, optional=True
        )
    except ResourceUnavailable as exc:
        battery = None
        battery_note = (
            f"{exc}: this tenant offers no battery health (beta resource); "
            "battery_health_pct is left empty and device_type decided without it"
        )
        log.warning("%s", battery_note)

    path = device_landing_path(landing_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    rows = without_user = duplicates = 0
    landed: set[str] = set()
    try:
        with staged.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            for page in client.pages(DEVICE_PERFORMANCE, DEVICE_PERFORMANCE_FIELDS):
                for record in page:
                    device_id = _text(record.get("id"))
                    if device_id and device_id.lower() in landed:
                        duplicates += 1
                        continue
                    landed.add(device_id.lower())
                    row = snapshot_row(record, day, users, app_health, battery)
                    without_user += not row[1]
                    writer.writerow(row)
                    rows += 1
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    if duplicates:
        log.warning("%s: %s repeated device records skipped", DEVICE_PERFORMANCE, duplicates)
    log.info(
        "Intune: %s devices (%s without a user, battery %s) into %s",
        rows,
        without_user,
        "present" if battery is not None else "absent",
        path,
    )
    return IntunePullResult(
        day=day,
        rows=rows,
        file=path,
        devices_without_user=without_user,
        battery=battery is not None,
        battery_note=battery_note,
        duplicates=duplicates,
    )


def snapshot_row(
    record: Mapping[str, Any],
    day: date,
    users: Mapping[str, str],
    app_health: Mapping[str, tuple[int | None, int | None]],
    battery: Mapping[str, int | None] | None,
) -> list[str]:
    """One landing row for a device performance record, in COLUMNS order."""
    device_id = _text(record.get("id"))
    key = device_id.lower()
    model = _text(record.get("model"))
    crashes, hangs = app_health.get(key, (None, None))
    has_battery = battery is not None and key in battery
    return [
        device_id,
        users.get(key, ""),
        day.isoformat(),
        device_type(model, _text(record.get("manufacturer")), has_battery),
        model,
        _text(record.get("operatingSystemVersion")),
        _seconds(record.get("coreBootTimeInMs"), record.get("groupPolicyBootTimeInMs")),
        _seconds(record.get("coreLoginTimeInMs"), record.get("groupPolicyLoginTimeInMs")),
        _cell(crashes),
        _cell(hangs),
        _cell(_integer(record.get("blueScreenCount"))),
        _cell(battery.get(key) if has_battery and battery is not None else None),
    ]


def device_type(model: str, manufacturer: str, has_battery: bool) -> str:
    """laptop, desktop or virtual, by the rule in the module constants (an assumption)."""
    if VIRTUAL.search(model) or VIRTUAL.search(manufacturer):
        return "virtual"
    if has_battery or LAPTOP.search(model):
        return "laptop"
    return "desktop"


def _by_device(client, path, fields, id_field, value, *, optional=False) -> dict[str, Any]:
    """A collection as {device id (lowercase): value(record)}; the first record of an id wins."""
    found: dict[str, Any] = {}
    for page in client.pages(path, fields, optional=optional):
        for record in page:
            device_id = _text(record.get(id_field)).lower()
            if device_id and device_id not in found:
                found[device_id] = value(record)
    log.info("%s: %s devices", path, len(found))
    return found


def _user(record: Mapping[str, Any]) -> str:
    return _text(record.get("userPrincipalName"))


def _app_counts(record: Mapping[str, Any]) -> tuple[int | None, int | None]:
    return _integer(record.get("appCrashCount")), _integer(record.get("appHangCount"))


def _battery(record: Mapping[str, Any]) -> int | None:
    return _integer(record.get("maxCapacityPercentage"))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _integer(value: Any) -> int | None:
    """A JSON integer (or an integral number or numeric string); anything else is no value."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _seconds(core_ms: Any, group_policy_ms: Any) -> str:
    """(core + group policy) ms as seconds; empty when the core time is missing or not > 0
    (a device that reported no boot or sign-in in the window has no figure, not a 0 s one)."""
    core = _integer(core_ms)
    if core is None or core <= 0:
        return ""
    policy = _integer(group_policy_ms)
    total = core + (policy if policy is not None and policy > 0 else 0)
    return f"{total / 1000:.3f}".rstrip("0").rstrip(".")


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)
