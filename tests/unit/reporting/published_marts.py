"""A reporting database written by hand: the marts and columns the packs read, typed as published.

`write_reporting_db` creates every table (empty unless rows are given) so a test states only the
rows it is about; `sample_organisation` is a small one around week 2026-W17 and April 2026, with
the journey marts of issue 19 (`device_ticket_experience_monthly`, `dex_band_experience_monthly`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from tests.unit.reporting.experience_marts import COLUMNS as CHANGE_COLUMNS
from tests.unit.reporting.experience_marts import change

SCORES = {
    "happiness_score": "DOUBLE",
    "happiness_ci_low": "DOUBLE",
    "happiness_ci_high": "DOUBLE",
    "avg_lost_time_minutes": "DOUBLE",
    "lost_time_ci_low": "DOUBLE",
    "lost_time_ci_high": "DOUBLE",
    "total_lost_hours": "DOUBLE",
    "responses": "BIGINT",
    "tickets_resolved": "BIGINT",
    "response_rate": "DOUBLE",
    "mttr_hours": "DOUBLE",
    "sla_attainment": "DOUBLE",
    "reopen_rate": "DOUBLE",
    "low_sample": "BOOLEAN",
}
# What the journey marts publish about a group of employees (a model's or a DEX band's users).
JOURNEY = {
    "dex_score": "DOUBLE",
    "tickets_opened": "BIGINT",
    "tickets_per_100_employees": "DOUBLE",
    "hardware_tickets": "BIGINT",
    "responses": "BIGINT",
    "happiness_score": "DOUBLE",
    "avg_lost_time_minutes": "DOUBLE",
    "total_lost_hours": "DOUBLE",
    "lost_hours_per_100_employees": "DOUBLE",
    "low_sample": "BOOLEAN",
}
# A DEX band against the good band of the same department and month, with 95 % intervals.
RATIOS = (
    "tickets_ratio_vs_good",
    "tickets_ratio_ci_low",
    "tickets_ratio_ci_high",
    "lost_time_ratio_vs_good",
    "lost_time_ratio_ci_low",
    "lost_time_ratio_ci_high",
)
COLUMNS: dict[str, dict[str, str]] = {
    "dim_service": {
        "service_id": "VARCHAR",
        "service_name": "VARCHAR",
        "xm_scope_start": "DATE",
        "in_scope": "BOOLEAN",
    },
    "fct_ticket_experience": {"service_id": "VARCHAR", "resolved_at": "TIMESTAMP"},
    "service_experience_weekly": {"service_id": "VARCHAR", "week_start": "DATE", **SCORES},
    "service_experience_monthly": {"service_id": "VARCHAR", "month_start": "DATE", **SCORES},
    "xla_baseline": {"service_id": "VARCHAR", "indicator": "VARCHAR", "baseline_value": "DOUBLE"},
    "xla_scorecard": {
        "service_id": "VARCHAR",
        "month_start": "DATE",
        "indicator": "VARCHAR",
        "actual": "DOUBLE",
        "baseline_value": "DOUBLE",
        "target": "DOUBLE",
        "higher_is_better": "BOOLEAN",
        "delta_vs_baseline": "DOUBLE",
        "status": "VARCHAR",
        "in_scope": "BOOLEAN",
    },
    "watermelon_services": {
        "service_id": "VARCHAR",
        "month_start": "DATE",
        "sla_attainment": "DOUBLE",
        "happiness_score": "DOUBLE",
        "sla_target": "DOUBLE",
        "happiness_target": "DOUBLE",
        "responses": "BIGINT",
        "low_sample": "BOOLEAN",
        "is_watermelon": "BOOLEAN",
    },
    "experience_hotspots": {
        "month_start": "DATE",
        "service_id": "VARCHAR",
        "factor": "VARCHAR",
        "responses": "BIGINT",
        "lost_hours": "DOUBLE",
        "share_of_negative": "DOUBLE",
    },
    "device_experience_weekly": {
        "department": "VARCHAR",
        "model": "VARCHAR",
        "week_start": "DATE",
        "devices": "BIGINT",
        "device_days": "BIGINT",
        "dex_score": "DOUBLE",
        "low_sample": "BOOLEAN",
    },
    "experience_changes": CHANGE_COLUMNS,
    "device_ticket_experience_monthly": {
        "department": "VARCHAR",
        "model": "VARCHAR",
        "month_start": "DATE",
        "employees": "BIGINT",
        "devices": "BIGINT",
        **JOURNEY,
    },
    "dex_band_experience_monthly": {
        "dex_band": "VARCHAR",
        "department": "VARCHAR",
        "month_start": "DATE",
        "employees": "BIGINT",
        **JOURNEY,
        **dict.fromkeys(RATIOS, "DOUBLE"),
    },
}


def write_reporting_db(path: Path, rows: Mapping[str, Iterable[Mapping[str, Any]]]) -> Path:
    """Every mart of COLUMNS in schema `marts`; a column a row leaves out is NULL."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts")
        for table, columns in COLUMNS.items():
            names = list(columns)
            con.execute(
                f"CREATE TABLE marts.{table} ("
                + ", ".join(f"{name} {kind}" for name, kind in columns.items())
                + ")"
            )
            values = [[row.get(name) for name in names] for row in rows.get(table, [])]
            if values:
                con.executemany(
                    f"INSERT INTO marts.{table} VALUES ({', '.join('?' * len(names))})", values
                )
    finally:
        con.close()
    return path


WEEK_START = date(2026, 4, 20)  # 2026-W17
MONTH_START = date(2026, 4, 1)
HOSTILE_NAME = '<script>alert("pwned")</script> & Mail'


def _week(service_id: str, weeks_ago: int, responses: int, score: float | None, ci=7.0) -> dict:
    """A week of service_experience_weekly: low sample when `score` is None, else score ± ci."""
    low = score is None
    return {
        "service_id": service_id,
        "week_start": WEEK_START - timedelta(weeks=weeks_ago),
        "responses": responses,
        "happiness_score": score,
        "happiness_ci_low": None if low else score - ci,
        "happiness_ci_high": None if low else score + ci,
        "avg_lost_time_minutes": None if low else 12.0,
        "total_lost_hours": 1.5,
        "tickets_resolved": 80,
        "response_rate": responses / 80,
        "low_sample": low,
    }


def _svc01_week(weeks_ago: int) -> dict:
    """+63 for weeks, +49 this week; too few answers 6 weeks ago."""
    if weeks_ago == 6:
        return _week("SVC01", weeks_ago, 2, None)
    return _week("SVC01", weeks_ago, 40, 49.0 if weeks_ago == 0 else 63.0)


def _device_week(department: str, model: str, devices: int, days: int, dex: float | None):
    """A cell of device_experience_weekly in 2026-W17: no score (low sample) under 5 devices."""
    return {
        "department": department,
        "model": model,
        "week_start": WEEK_START,
        "devices": devices,
        "device_days": days,
        "dex_score": dex,
        "low_sample": devices < 5,
    }


def _scorecard(service_id: str, month_start: date, indicator: str, actual, status: str) -> dict:
    return {
        "service_id": service_id,
        "month_start": month_start,
        "indicator": indicator,
        "actual": actual,
        "baseline_value": 40.0 if indicator == "happiness_score" else 15.0,
        "target": 50.0 if indicator == "happiness_score" else 10.0,
        "higher_is_better": indicator == "happiness_score",
        "delta_vs_baseline": None if actual is None else actual - 40.0,
        "status": status,
        "in_scope": True,
    }


def journey(employees: int, tickets: int | None, responses: int | None, lost_hours=None) -> dict:
    """A journey-mart group: per-100-employee rates from the counts; low sample under 5 employees
    (no ticket or answer figure), no happiness or lost time under 5 answers."""
    if employees < 5:
        return {"employees": employees, "low_sample": True}
    answered = responses is not None and responses >= 5
    return {
        "employees": employees,
        "tickets_opened": tickets,
        "tickets_per_100_employees": 100 * tickets / employees,
        "hardware_tickets": tickets // 3,
        "responses": responses,
        "happiness_score": 20.0 if answered else None,
        "avg_lost_time_minutes": 60 * lost_hours / responses if answered else None,
        "total_lost_hours": lost_hours if answered else None,
        "lost_hours_per_100_employees": 100 * lost_hours / employees if answered else None,
        "low_sample": False,
    }


def _model_month(model: str, dex: float, group: dict, department="all", month=MONTH_START):
    return {
        "department": department,
        "model": model,
        "month_start": month,
        "devices": group["employees"] + 1,
        "dex_score": dex,
        **group,
    }


def _band_month(band: str, dex: float, group: dict, ratios=(None,) * 6, department="all"):
    return {
        "dex_band": band,
        "department": department,
        "month_start": MONTH_START,
        "dex_score": dex,
        **group,
        **dict(zip(RATIOS, ratios, strict=True)),
    }


def device_journeys() -> dict[str, list[dict[str, Any]]]:
    """April 2026 over the whole organisation, and decoys the packs must leave out.

    Models by lost hours per 100 employees: Latitude 5420 (55.0), MacBook Air (25.0), T14 (20.0);
    EliteBook's 8 users gave 3 answers (no lost time), Surface Go has 3 users (low sample).
    Employees on poor devices opened 2.3× the tickets and lost 1.8× the time of those on good
    ones; fair devices had 3 employees, too few to compare.
    """
    return {
        "device_ticket_experience_monthly": [
            _model_month("Latitude 5420", 48.0, journey(40, 30, 20, 22.0)),
            _model_month("T14", 71.5, journey(120, 48, 60, 24.0)),
            _model_month("MacBook Air", 80.0, journey(30, 9, 12, 7.5)),
            _model_month("EliteBook", 66.0, journey(8, 3, 3)),
            _model_month("Surface Go", 35.0, journey(3, None, None)),
            # Decoys: a department's row and another month, each with the most lost hours.
            _model_month("T14", 70.0, journey(10, 9, 6, 9.0), department="Finance"),
            _model_month("Surface Go", 30.0, journey(10, 9, 6, 9.9), month=date(2026, 3, 1)),
        ],
        "dex_band_experience_monthly": [
            _band_month(
                "poor", 42.0, journey(50, 35, 25, 18.0), (7 / 3, 1.86, 2.84, 1.8, 1.43, 2.31)
            ),
            _band_month("fair", 61.0, journey(3, None, None)),
            _band_month("good", 78.0, journey(200, 60, 80, 40.0)),
            _band_month(
                "poor",
                40.0,
                journey(20, 20, 10, 10.0),
                (3.3, 2.0, 5.0, 2.5, 1.1, 4.0),
                department="Finance",
            ),
        ],
    }


def sample_organisation() -> dict[str, list[dict[str, Any]]]:
    """Three services in scope in 2026-W17 and one not.

    SVC01 (the hostile name): scored every week but one low-sample week (6 weeks ago), 40 answers
    of 80 tickets this week, a significant drop against the previous 4 weeks.
    SVC02: low sample this week and the week before, so it has no change to test. SVC03: joined
    the scope this week, 6 answers of 80 (a low response rate), so its detectable change is wide.
    """
    march = date(2026, 3, 1)
    return {
        "dim_service": [
            {
                "service_id": "SVC01",
                "service_name": HOSTILE_NAME,
                "xm_scope_start": date(2026, 3, 30),
            },
            {"service_id": "SVC02", "service_name": "Laptops", "xm_scope_start": date(2026, 3, 30)},
            {"service_id": "SVC03", "service_name": "VPN", "xm_scope_start": WEEK_START},
            {"service_id": "SVC04", "service_name": "Printing", "xm_scope_start": None},
        ],
        "fct_ticket_experience": [{"service_id": "SVC01", "resolved_at": "2026-04-26 10:00"}],
        "service_experience_weekly": [
            *(_svc01_week(ago) for ago in range(12)),
            *(
                _week("SVC02", ago, 3 if ago < 2 else 20, None if ago < 2 else 30.0)
                for ago in range(12)
            ),
            *(_week("SVC03", ago, 6, 10.0, ci=40.0) for ago in range(12)),
        ],
        "service_experience_monthly": [
            {
                "service_id": "SVC01",
                "month_start": MONTH_START,
                "responses": 160,
                "happiness_score": 47.0,
                "happiness_ci_low": 41.2,
                "happiness_ci_high": 52.8,
                "low_sample": False,
            },
            {
                "service_id": "SVC01",
                "month_start": march,
                "responses": 150,
                "happiness_score": 55.0,
                "happiness_ci_low": 49.5,
                "happiness_ci_high": 60.5,
                "low_sample": False,
            },
            {"service_id": "SVC02", "month_start": MONTH_START, "responses": 4, "low_sample": True},
        ],
        "xla_baseline": [
            {"service_id": sid, "indicator": indicator, "baseline_value": value}
            for sid in ("SVC01", "SVC02", "SVC03")
            for indicator, value in (("happiness_score", 40.0), ("avg_lost_time_minutes", 15.0))
        ],
        "xla_scorecard": [
            _scorecard("SVC01", MONTH_START, "happiness_score", 47.0, "amber"),
            _scorecard("SVC01", march, "happiness_score", 55.0, "green"),
            _scorecard("SVC01", MONTH_START, "avg_lost_time_minutes", 12.0, "red"),
            _scorecard("SVC01", MONTH_START, "sla_attainment", 0.95, "green"),
            _scorecard("SVC02", MONTH_START, "happiness_score", None, "insufficient_data"),
            _scorecard("SVC03", MONTH_START, "happiness_score", 52.0, "green"),
        ],
        "watermelon_services": [
            {
                "service_id": "SVC01",
                "month_start": MONTH_START,
                "sla_attainment": 0.95,
                "happiness_score": 47.0,
                "sla_target": 0.9,
                "happiness_target": 50.0,
                "responses": 160,
                "low_sample": False,
                "is_watermelon": True,
            },
        ],
        "experience_hotspots": [
            {
                "month_start": MONTH_START,
                "service_id": "SVC01",
                "factor": "slow_response",
                "responses": 9,
                "lost_hours": 4.5,
                "share_of_negative": 0.4,
            },
        ],
        # By model, worst first: Latitude 5420 (47.1 over its device-days), T14, MacBook Air;
        # Surface Go has only low-sample cells, so no score.
        "device_experience_weekly": [
            _device_week("Finance", "T14", 12, 60, 71.5),
            _device_week("HR", "Latitude 5420", 8, 56, 46.0),
            _device_week("Finance", "Latitude 5420", 6, 12, 52.0),
            _device_week("Finance", "MacBook Air", 10, 50, 80.0),
            _device_week("HR", "MacBook Air", 2, 10, None),
            _device_week("Sales", "Surface Go", 3, 15, None),
        ],
        "experience_changes": [
            change("SVC01", week_start=WEEK_START, value=49.0, reference_value=63.0, q_value=0.002)
            | {"minimum_detectable_change": 8.6},
            change(
                "SVC01",
                "happiness_score",
                "baseline",
                WEEK_START,
                significant=False,
                value=49.0,
                reference_value=52.0,
                q_value=0.6,
            )
            | {"reference_n": 480, "minimum_detectable_change": 7.3},
            change(
                "SVC01",
                "avg_lost_time_minutes",
                week_start=WEEK_START,
                significant=False,
                value=12.0,
                reference_value=10.0,
                q_value=0.46,
            )
            | {"minimum_detectable_change": 3.4},
            change(
                "SVC03",
                week_start=WEEK_START,
                significant=False,
                direction=None,
                value=10.0,
                reference_value=10.0,
                q_value=1.0,
            )
            | {"n": 6, "reference_n": 24, "minimum_detectable_change": 44.7},
            change(
                "SVC03",
                "avg_lost_time_minutes",
                "baseline",
                WEEK_START,
                direction="better",
                value=5.0,
                reference_value=15.0,
                q_value=0.0001,
            )
            | {"n": 6, "reference_n": 72, "minimum_detectable_change": 3.6},
            # Both sides answered alike: no variance, so no test statistic and nothing detectable.
            change(
                "SVC03",
                "avg_lost_time_minutes",
                week_start=WEEK_START,
                significant=False,
                direction=None,
                value=5.0,
                reference_value=5.0,
            )
            | {
                "n": 4,
                "reference_n": 16,
                "z": None,
                "p_value": None,
                "q_value": None,
                "minimum_detectable_change": 0.0,
            },
        ],
        **device_journeys(),
    }
