"""The core marts as an analyst would write them in pandas, straight from the landing files.

    python -m benchmarks.pandas_marts LANDING REFERENCE OUT [--min-responses N]

Deliberately straightforward (read every file, concatenate, group by): the comparison point
for "why not a notebook". Same definitions as the dbt models and floor.sql.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.compare import CORE_MARTS
from benchmarks.floor import script_arguments

DEX_WEIGHTS = {
    "boot_score": 0.15,
    "logon_score": 0.15,
    "app_stability_score": 0.20,
    "system_stability_score": 0.15,
    "cpu_score": 0.10,
    "memory_score": 0.10,
    "disk_score": 0.075,
    "battery_score": 0.075,
}


def _field(value, key: str = "value"):
    return value.get(key) if isinstance(value, dict) else value


def _tickets(landing: Path, reference: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(landing.glob("itsm/*/*.json")):
        extract_date = path.parent.name
        rows.extend(
            {
                "ticket_id": r["sys_id"],
                "ticket_number": r["number"],
                "table": r["sys_class_name"].lower(),
                "business_service": _field(r["business_service"], "display_value"),
                "assignment_group": _field(r["assignment_group"], "display_value"),
                "opened_at": r["opened_at"],
                "resolved_at": r["resolved_at"] or None,
                "closed_at": r["closed_at"] or None,
                "updated_at": r["sys_updated_on"],
                "state": _field(r["state"]),
                "made_sla": r["made_sla"] == "true",
                "is_reopened": int(r["reopen_count"] or 0) > 0,
                "extract_date": extract_date,
            }
            for r in json.loads(path.read_text())["result"]
        )
    t = pd.DataFrame(rows)
    for column in ("opened_at", "resolved_at", "closed_at", "updated_at"):
        t[column] = pd.to_datetime(t[column])
    t = t.sort_values(["updated_at", "extract_date"]).drop_duplicates("ticket_number", keep="last")
    # The first matching rule by precedence: the business-service mapping (0), then the
    # organisation's rules (the generated ones: exact assignment groups).
    mapping = pd.read_csv(reference / "business_service_mapping.csv", dtype=str)
    rules = pd.read_csv(reference / "service_mapping_rules.csv", dtype=str).dropna(
        subset=["service_id"]
    )
    rules = pd.concat(
        [
            mapping.assign(
                precedence=0, field="business_service", value=mapping["business_service"]
            ),
            rules.assign(precedence=rules["precedence"].astype(int)),
        ]
    )
    rules["field"] = rules["field"].str.strip().str.lower()
    rules["key"] = rules["value"].str.strip().str.lower()
    fields = pd.concat(
        t[["ticket_number", field]]
        .rename(columns={field: "key"})
        .assign(field=field, key=lambda f: f["key"].str.strip().str.lower())
        for field in ("business_service", "assignment_group")
    )
    matched = fields[fields["key"] != ""].merge(rules, on=["field", "key"])
    first = matched.sort_values("precedence").drop_duplicates("ticket_number")
    t = t.merge(first[["ticket_number", "service_id"]], on="ticket_number", how="left")
    t["service_id"] = t["service_id"].fillna("unmapped")
    is_request = t["table"] == "sc_req_item"
    t.loc[is_request, "resolved_at"] = t.loc[is_request, "resolved_at"].fillna(
        t.loc[is_request, "closed_at"]
    )
    # Ended without being resolved: incidents Canceled (8), requests Closed Incomplete (4) or
    # Closed Skipped (7); counted as canceled when they closed, never as resolved.
    canceled = (~is_request & (t["state"] == "8")) | (is_request & t["state"].isin(["4", "7"]))
    t["canceled_at"] = t["closed_at"].fillna(t["updated_at"]).where(canceled)
    t.loc[canceled, "resolved_at"] = pd.NaT
    return t


def _read_extracts(landing: Path, pattern: str, read) -> pd.DataFrame:
    """Every landing file matching `pattern`, concatenated, with its extract date."""
    frames = []
    for path in sorted(landing.glob(pattern)):
        frame = read(path)
        frame["extract_date"] = path.parent.name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _read_csv_text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str)


def _week(stamps: pd.Series) -> pd.Series:
    days = stamps.dt.normalize()
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def service_experience_weekly(landing: Path, reference: Path, min_responses: int) -> pd.DataFrame:
    tickets = _tickets(landing, reference)
    responses = _read_extracts(landing, "survey/*/*.csv", _read_csv_text)
    responses = responses.sort_values("extract_date").drop_duplicates("response_id", keep="last")
    responses = responses[responses["survey_type"].str.lower() == "ticket"].copy()
    responses["responded_at"] = pd.to_datetime(responses["responded_at"], utc=True).dt.tz_convert(
        None
    )
    responses["happiness"] = responses["happiness"].astype(int)
    responses["lost_time_minutes"] = pd.to_numeric(responses["lost_time_minutes"])
    responses = responses.merge(
        tickets[["ticket_number", "ticket_id", "service_id"]], on="ticket_number", how="left"
    )
    responses["service_id"] = responses["service_id"].fillna("unmapped")
    responses["week_start"] = _week(responses["responded_at"])
    responses["promoter"] = responses["happiness"] >= 9
    responses["detractor"] = responses["happiness"] <= 6

    by_responses = responses.groupby(["service_id", "week_start"]).agg(
        responses=("response_id", "size"),
        promoters=("promoter", "sum"),
        detractors=("detractor", "sum"),
        avg_lost_time_minutes=("lost_time_minutes", "mean"),
        total_lost_minutes=("lost_time_minutes", "sum"),
    )
    by_responses["happiness_score"] = (
        100.0 * (by_responses["promoters"] - by_responses["detractors"]) / by_responses["responses"]
    )
    by_responses["total_lost_hours"] = by_responses["total_lost_minutes"] / 60.0

    resolved = tickets[tickets["resolved_at"].notna()].copy()
    resolved["week_start"] = _week(resolved["resolved_at"])
    resolved["resolution_hours"] = (
        resolved["resolved_at"] - resolved["opened_at"]
    ).dt.total_seconds() / 3600.0
    by_tickets = resolved.groupby(["service_id", "week_start"]).agg(
        tickets_resolved=("ticket_id", "size"),
        mttr_hours=("resolution_hours", "median"),
        sla_attainment=("made_sla", "mean"),
        reopen_rate=("is_reopened", "mean"),
    )
    answered = (
        resolved[["ticket_id", "service_id", "week_start"]]
        .merge(responses[["ticket_id"]].dropna(), on="ticket_id")
        .groupby(["service_id", "week_start"])
        .size()
        .rename("answered")
    )
    canceled = tickets[tickets["canceled_at"].notna()].copy()
    canceled["week_start"] = _week(canceled["canceled_at"])
    by_canceled = canceled.groupby(["service_id", "week_start"]).size().rename("tickets_canceled")
    mart = (
        by_responses.join(by_tickets, how="outer")
        .join(by_canceled, how="outer")
        .join(answered, how="left")
        .reset_index()
    )
    mart["tickets_canceled"] = mart["tickets_canceled"].fillna(0).astype("int64")
    mart["responses"] = mart["responses"].fillna(0).astype("int64")
    mart["tickets_resolved"] = mart["tickets_resolved"].fillna(0).astype("int64")
    mart["response_rate"] = mart["answered"].fillna(0) / mart["tickets_resolved"].replace(0, np.nan)
    mart["low_sample"] = mart["responses"] < min_responses
    for column in ("happiness_score", "avg_lost_time_minutes", "total_lost_hours"):
        mart.loc[mart["low_sample"], column] = np.nan
    keys, values = CORE_MARTS["service_experience_weekly"]
    return mart[[*keys, *values]]


def _band(value: pd.Series, good: float, poor: float) -> pd.Series:
    return (100.0 * (poor - value) / (poor - good)).clip(0.0, 100.0)


def device_experience_weekly(landing: Path) -> pd.DataFrame:
    directory = _read_extracts(landing, "directory/*/*.csv", _read_csv_text)
    directory = directory.sort_values("extract_date").drop_duplicates("employee_id", keep="last")

    devices = _read_extracts(landing, "device/*/*.parquet", pd.read_parquet)
    devices = devices.sort_values("extract_date").drop_duplicates(
        ["device_id", "snapshot_date"], keep="last"
    )
    devices = devices.merge(directory[["employee_id", "department"]], on="employee_id", how="left")
    devices["department"] = devices["department"].fillna("unknown")
    devices["week_start"] = _week(pd.to_datetime(devices["snapshot_date"]))
    devices["boot_score"] = _band(devices["boot_duration_s"], 30, 120)
    devices["logon_score"] = _band(devices["logon_duration_s"], 20, 60)
    devices["app_stability_score"] = _band(devices["app_crashes"] + devices["app_freezes"], 0, 3)
    devices["system_stability_score"] = _band(devices["system_crashes"], 0, 1)
    devices["cpu_score"] = _band(devices["cpu_saturation_pct"], 5, 30)
    devices["memory_score"] = _band(devices["memory_saturation_pct"], 5, 30)
    devices["disk_score"] = _band(devices["disk_free_pct"], 20, 5)
    devices["battery_score"] = _band(devices["battery_health_pct"], 80, 60)
    weighted = sum(devices[c].fillna(0) * w for c, w in DEX_WEIGHTS.items())
    weights = sum(devices[c].notna() * w for c, w in DEX_WEIGHTS.items())
    devices["dex_score"] = (weighted / weights).round(4)

    scores = ["dex_score", *DEX_WEIGHTS]
    mart = (
        devices.groupby(["department", "model", "week_start"])
        .agg(
            devices=("device_id", "nunique"),
            device_days=("device_id", "size"),
            **{c: (c, "mean") for c in scores},
        )
        .reset_index()
    )
    mart["low_sample"] = mart["devices"] < 5
    mart.loc[mart["low_sample"], scores] = np.nan
    return mart


def main() -> None:
    args = script_arguments(__doc__)
    args.out.mkdir(parents=True, exist_ok=True)
    service_experience_weekly(args.landing, args.reference, args.min_responses).to_parquet(
        args.out / "service_experience_weekly.parquet", index=False
    )
    device_experience_weekly(args.landing).to_parquet(
        args.out / "device_experience_weekly.parquet", index=False
    )


if __name__ == "__main__":
    main()
