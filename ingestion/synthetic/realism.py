"""How realistic a generated organisation is: every DOMAIN §5 figure, measured from its files.

`measure_landing` loads the landing files the way the pipeline does (ingestion.loader, into a
scratch DuckDB file) and measures each figure of DOMAIN §5 (and the ticket counters of §4) on
what was written, not on the generator's intentions: a figure the files do not show is not
there. `format_report` prints them with their ranges (`xmo generate --report`).

Volumes and mixes are measured over every ticket. Resolution, survey and lost-time figures over
the *ordinary* tickets: outside the story lines built to stand out (the watermelon service, the
storm service during the storm), whose figures are meant to be off.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ingestion.loader import extract_dates, load_partitions
from ingestion.sources import SOURCES
from ingestion.synthetic import organisation as org
from ingestion.synthetic.business_hours import business_hours_between
from ingestion.synthetic.generator import storm_days

log = logging.getLogger(__name__)

DAYS_PER_MONTH = 365.25 / 12
# ServiceNow's out-of-box contact types, named as DOMAIN §5's benchmark channels.
STANDARD_CHANNELS = {
    "self-service": "portal",
    "phone": "phone",
    "email": "email",
    "chat": "chat",
    "walk-in": "walk_in",
}


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    low: float
    high: float
    domain: str  # the DOMAIN figure the range reads
    kind: str = "number"  # number | share | hours | minutes | points | hour

    def show(self, value: float) -> str:
        if self.kind == "share":
            return f"{100 * value:.1f} %"
        if self.kind == "hours":
            return f"{value:.1f} h"
        if self.kind == "minutes":
            return f"{value:.0f} min"
        if self.kind == "points":
            return f"{value:+.1f}"
        if self.kind == "hour":
            return f"{value:02.0f}:00"
        return f"{value:.2f}"


@dataclass(frozen=True)
class Figure:
    target: Target
    value: float | None

    @property
    def inside(self) -> bool:
        return self.value is not None and self.target.low <= self.value <= self.target.high

    @property
    def shown(self) -> str:
        return "n/a" if self.value is None else self.target.show(self.value)

    @property
    def range(self) -> str:
        return f"{self.target.show(self.target.low)} … {self.target.show(self.target.high)}"


def _t(key: str, label: str, low: float, high: float, domain: str, kind: str = "number") -> Target:
    return Target(key, label, low, high, domain, kind)


# Ranges read DOMAIN's words; where DOMAIN gives one figure ("about 3 h") the range is that
# figure with the tolerance an Experience Officer would still call "about".
TARGETS: tuple[Target, ...] = (
    _t("incidents_per_employee_month", "Incidents per employee per month", 0.3, 0.8, "0.3-0.8"),
    _t("requests_per_employee_month", "Requests per employee per month", 0.3, 0.7, "0.3-0.7"),
    _t("weekend_drop", "Fewer tickets a weekend day", 0.2, 0.4, "~30 % less", "share"),
    _t("weekday_peak_hour", "Busiest weekday hour (UTC)", 8, 16, "business-hour peaks", "hour"),
    _t("priority_3", "Priority 3 share", 0.70, 0.90, "70-90 %", "share"),
    _t("priority_1", "Priority 1 share", 0.01, 0.02, "1-2 %", "share"),
    _t("channel_portal", "Channel: portal (self-service)", 0.40, 0.50, "40-50 %", "share"),
    _t("channel_phone", "Channel: phone", 0.25, 0.35, "25-35 %", "share"),
    _t("channel_email", "Channel: email", 0.10, 0.20, "10-20 %", "share"),
    _t("channel_chat", "Channel: chat", 0.05, 0.10, "5-10 %", "share"),
    _t("channel_walk_in", "Channel: walk-in", 0.02, 0.05, "2-5 %", "share"),
    _t("channel_other", "Channel: non-standard values", 0.05, 0.10, "5-10 %", "share"),
    _t("mttr_p1", "MTTR P1 (median business hours)", 3, 6, "~4 h", "hours"),
    _t("mttr_p2", "MTTR P2 (median business hours)", 6, 12, "~8 h", "hours"),
    _t("mttr_p3", "MTTR P3 (median business hours)", 9, 18, "1-2 days of 9 h", "hours"),
    _t("mttr_p4", "MTTR P4 (median business hours)", 18, 36, "2-4 days of 9 h", "hours"),
    _t("canceled", "Incidents canceled", 0.02, 0.05, "2-5 %", "share"),
    _t(
        "requests_unresolved",
        "Requests closed incomplete or skipped",
        0.02,
        0.05,
        "2-5 % canceled",
        "share",
    ),
    _t("auto_close_days", "Auto-close after resolution (median days)", 3, 7, "3-7 days"),
    _t("sla_missed", "SLA missed (§4)", 0.05, 0.15, "5-15 %", "share"),
    _t("reassignment_mean", "Reassignments per ticket (§4)", 0.9, 1.3, "mean ~1.1"),
    _t("never_reassigned", "Never reassigned (§4)", 0.4, 0.6, "about half", "share"),
    _t("reopened", "Reopened (§4)", 0.01, 0.03, "1-3 %", "share"),
    _t("response_rate", "Survey response rate", 0.10, 0.25, "10-25 %", "share"),
    _t("happiness_incidents", "Happiness, incidents", 65, 80, "+65...+80", "points"),
    _t("happiness_requests", "Happiness, requests", 75, 85, "+75...+85", "points"),
    _t("happiness_per_reassignment", "Happiness per reassignment", -11, -5, "-7", "points"),
    _t("lost_time_answered", "Lost time answered", 0.75, 0.85, "~80 %", "share"),
    _t("lost_time_incidents", "Mean lost time, incidents", 150, 210, "~3 h", "minutes"),
    _t("lost_time_requests", "Mean lost time, requests", 120, 180, "~2.5 h", "minutes"),
    _t("lost_time_per_reassignment", "Lost time per reassignment", 80, 135, "+106", "minutes"),
    _t("lost_time_top_share", "Tickets holding 80 % of lost time", 0.10, 0.16, "~13 %", "share"),
    _t("sign_ins_over_40s", "Sign-ins over 40 s", 0.25, 0.35, "~30 %", "share"),
    _t("blue_screens", "Blue screens per device-year", 0, 2, "< 2"),
    # DOMAIN names the cut-offs, not the shares: both bands hold a real part of the fleet.
    _t("battery_below_60", "Laptop battery below 60 %", 0.05, 0.25, "cut-off 60 %", "share"),
    _t("battery_60_80", "Laptop battery 60-80 %", 0.25, 0.55, "cut-off 80 %", "share"),
    _t("slow_model_boot", "Slow-disk model boot vs others", 3, 4, "HDD 3-4x (§3)", "number"),
)


@dataclass(frozen=True)
class RealismReport:
    employees: int
    first_day: date
    last_day: date
    figures: tuple[Figure, ...]

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.target.key == key)

    @property
    def outside(self) -> list[Figure]:
        return [f for f in self.figures if not f.inside]


def measure_landing(
    landing_dir: Path, reference_dir: Path, mappings_dir: Path | None = None
) -> RealismReport:
    """Load the landing files into a scratch warehouse and measure every figure on them."""
    dates = extract_dates(landing_dir)
    if not dates:
        raise ValueError(f"no extract folders under {landing_dir}")
    with tempfile.TemporaryDirectory(prefix="xmo-realism-") as scratch, _quiet_loader():
        warehouse = Path(scratch) / "realism.duckdb"
        for source in SOURCES.values():
            loads = list(load_partitions(warehouse, landing_dir, source, dates, mappings_dir))
            log.info(
                "realism: loaded %s rows of %s (%s quarantined) from %s extracts",
                sum(load.loaded for load in loads),
                source.name,
                sum(load.quarantined for load in loads),
                len(loads),
            )
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return measure_warehouse(con, reference_dir, dates[0], dates[-1])
        finally:
            con.close()


@contextmanager
def _quiet_loader() -> Iterator[None]:
    """The loader's per-chunk lines are for pipeline runs; the report logs a line per source."""
    loader_log = logging.getLogger("ingestion.loader")
    level = loader_log.level
    loader_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        loader_log.setLevel(level)


def measure_warehouse(
    con: duckdb.DuckDBPyConnection, reference_dir: Path, first_day: date, last_day: date
) -> RealismReport:
    """Every figure over the raw tables of a loaded landing zone."""
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    employees = _employees(con)
    tickets = _tickets(con, reference_dir, days)
    responses = _ticket_responses(con, tickets)
    values = {
        **_volumes(tickets, employees, days),
        **_resolution(tickets),
        **_surveys(tickets, responses),
        **_devices(con),
    }
    figures = tuple(Figure(t, _finite(values.get(t.key))) for t in TARGETS)
    return RealismReport(employees, first_day, last_day, figures)


def format_report(report: RealismReport) -> str:
    head = (
        f"Realism against DOMAIN §5: {report.employees:,} employees, "
        f"{report.first_day} to {report.last_day}"
    )
    lines = [
        head,
        "(resolution and survey figures over ordinary tickets: outside the watermelon service "
        "and the storm)",
        f"  {'figure':<44} {'measured':>10}  {'range':<22} {'DOMAIN':<20}",
    ]
    for f in report.figures:
        mark = "inside" if f.inside else "OUTSIDE"
        lines.append(
            f"  {f.target.label:<44} {f.shown:>10}  {f.range:<22} {f.target.domain:<20} {mark}"
        )
    inside = len(report.figures) - len(report.outside)
    lines.append(f"{inside} of {len(report.figures)} figures inside their ranges.")
    return "\n".join(lines)


def _finite(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


def _employees(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(
        "SELECT count(DISTINCT employee_id) FROM raw.directory_employees "
        "WHERE _extract_date = (SELECT max(_extract_date) FROM raw.directory_employees)"
    ).fetchall()[0][0]


def _tickets(con: duckdb.DuckDBPyConnection, reference_dir: Path, days: list[date]) -> pd.DataFrame:
    """The latest version of each ticket, its service and whether it is ordinary."""
    tickets = con.execute(
        """
        SELECT number, sys_class_name = 'sc_req_item' AS is_request, opened_at,
               CASE WHEN sys_class_name = 'sc_req_item' THEN coalesce(resolved_at, closed_at)
                    ELSE resolved_at END AS resolved_at,
               closed_at, state, priority, lower(trim(contact_type)) AS contact_type,
               business_service, assignment_group, reassignment_count, reopen_count, made_sla
        FROM raw.itsm_tickets
        WHERE opened_at IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY number ORDER BY sys_updated_on DESC, _extract_date DESC, _source_line DESC
        ) = 1
        """
    ).df()
    mapping = pd.read_csv(reference_dir / "business_service_mapping.csv")
    tickets["service_id"] = tickets["business_service"].map(
        dict(zip(mapping["business_service"], mapping["service_id"], strict=True))
    )
    # Without a business service, the team's rule (the generator maps by assignment group).
    rules_path = reference_dir / "service_mapping_rules.csv"
    if rules_path.exists():
        rules = pd.read_csv(rules_path, dtype=str).sort_values("precedence", key=pd.to_numeric)
        by_group = rules[rules["field"].str.strip().str.lower() == "assignment_group"]
        tickets["service_id"] = tickets["service_id"].fillna(
            tickets["assignment_group"].map(
                dict(zip(by_group["value"][::-1], by_group["service_id"][::-1], strict=True))
            )
        )
    opened_day = tickets["opened_at"].dt.date
    storm = {d for d, on in zip(days, storm_days(days), strict=True) if on}
    in_storm = (tickets["service_id"] == org.STORM_SERVICE) & opened_day.isin(storm)
    tickets["ordinary"] = ~in_storm & (tickets["service_id"] != org.WATERMELON_SERVICE)
    # Ended without being resolved: incidents Canceled (8); request items, on the task states,
    # Closed Incomplete (4) or Closed Skipped (7).
    state = tickets["state"].astype(str).str.strip()
    tickets["canceled"] = np.where(
        tickets["is_request"],
        state.isin(["4", "7", "Closed Incomplete", "Closed Skipped"]),
        state.isin(["8", "Canceled", "Cancelled"]),
    )
    return tickets


def _ticket_responses(con: duckdb.DuckDBPyConnection, tickets: pd.DataFrame) -> pd.DataFrame:
    responses = con.execute(
        """
        SELECT ticket_number AS number, happiness, lost_time_minutes
        FROM raw.survey_responses
        WHERE lower(survey_type) = 'ticket' AND happiness IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY response_id ORDER BY responded_at DESC) = 1
        """
    ).df()
    return responses.merge(tickets, on="number", how="inner")


def _share(mask: pd.Series) -> float | None:
    return float(mask.mean()) if len(mask) else None


def _volumes(tickets: pd.DataFrame, employees: int, days: list[date]) -> dict[str, float | None]:
    months = len(days) / DAYS_PER_MONTH
    per_day = tickets.groupby(tickets["opened_at"].dt.date).size().reindex(days, fill_value=0)
    weekend = np.array([d.weekday() >= 5 for d in days])
    weekday_tickets = tickets[tickets["opened_at"].dt.weekday < 5]
    channel = tickets["contact_type"].map(STANDARD_CHANNELS).fillna("other")
    values = {
        "incidents_per_employee_month": (~tickets["is_request"]).sum() / employees / months,
        "requests_per_employee_month": tickets["is_request"].sum() / employees / months,
        "weekend_drop": 1 - per_day[weekend].mean() / per_day[~weekend].mean()
        if weekend.any() and (~weekend).any()
        else None,
        "weekday_peak_hour": float(weekday_tickets["opened_at"].dt.hour.value_counts().idxmax()),
        "priority_3": _share(tickets["priority"] == "3"),
        "priority_1": _share(tickets["priority"] == "1"),
        "reassignment_mean": tickets["reassignment_count"].mean(),
        "never_reassigned": _share(tickets["reassignment_count"] == 0),
        "reopened": _share(tickets["reopen_count"] > 0),
    }
    for name in ("portal", "phone", "email", "chat", "walk_in", "other"):
        values[f"channel_{name}"] = _share(channel == name)
    return values


def _resolution(tickets: pd.DataFrame) -> dict[str, float | None]:
    incidents = tickets[~tickets["is_request"]]
    ordinary = tickets[tickets["ordinary"] & ~tickets["canceled"] & tickets["resolved_at"].notna()]
    hours = business_hours_between(
        ordinary["opened_at"].to_numpy("datetime64[s]"),
        ordinary["resolved_at"].to_numpy("datetime64[s]"),
    )
    values: dict[str, float | None] = {}
    for p in ("1", "2", "3", "4"):
        of_priority = hours[(ordinary["priority"] == p).to_numpy()]
        values[f"mttr_p{p}"] = float(np.median(of_priority)) if of_priority.size else None
    closed = incidents[incidents["resolved_at"].notna() & incidents["closed_at"].notna()]
    delay_days = (closed["closed_at"] - closed["resolved_at"]).dt.total_seconds() / 86_400
    values["auto_close_days"] = float(delay_days.median()) if len(delay_days) else None
    values["canceled"] = _share(incidents["canceled"])
    values["requests_unresolved"] = _share(tickets.loc[tickets["is_request"], "canceled"])
    values["sla_missed"] = _share(ordinary["made_sla"] == False)  # noqa: E712 (nullable)
    return values


def _score(happiness: pd.Series) -> float | None:
    if not len(happiness):
        return None
    return float(100 * ((happiness >= 9).mean() - (happiness <= 6).mean()))


def _slope(x: pd.Series, y: pd.Series) -> float | None:
    """Least-squares change of y per unit of x."""
    if len(x) < 2 or x.var() == 0:
        return None
    return float(np.cov(x, y)[0, 1] / x.var())


def _top_share(minutes: np.ndarray, part: float = 0.8) -> float | None:
    """The smallest share of answers that holds `part` of the total."""
    if not minutes.size or minutes.sum() <= 0:
        return None
    ordered = np.sort(minutes)[::-1]
    holding = int(np.searchsorted(np.cumsum(ordered), part * ordered.sum()) + 1)
    return holding / minutes.size


def _surveys(tickets: pd.DataFrame, responses: pd.DataFrame) -> dict[str, float | None]:
    done = tickets[tickets["ordinary"] & ~tickets["canceled"] & tickets["resolved_at"].notna()]
    answered = responses[responses["ordinary"]]
    lost = answered[answered["lost_time_minutes"].notna()]
    score_value = np.select(
        [answered["happiness"] >= 9, answered["happiness"] <= 6], [100.0, -100.0], 0.0
    )
    return {
        "response_rate": len(answered) / len(done) if len(done) else None,
        "happiness_incidents": _score(answered.loc[~answered["is_request"], "happiness"]),
        "happiness_requests": _score(answered.loc[answered["is_request"], "happiness"]),
        "happiness_per_reassignment": _slope(
            answered["reassignment_count"].astype(float), pd.Series(score_value)
        ),
        "lost_time_answered": _share(answered["lost_time_minutes"].notna()),
        "lost_time_incidents": lost.loc[~lost["is_request"], "lost_time_minutes"].mean(),
        "lost_time_requests": lost.loc[lost["is_request"], "lost_time_minutes"].mean(),
        "lost_time_per_reassignment": _slope(
            lost["reassignment_count"].astype(float), lost["lost_time_minutes"].astype(float)
        ),
        "lost_time_top_share": _top_share(lost["lost_time_minutes"].to_numpy(dtype=float)),
    }


def _devices(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    row = con.execute(
        """
        SELECT avg(CASE WHEN logon_duration_s > 40 THEN 1.0 ELSE 0.0 END)
                   FILTER (WHERE logon_duration_s IS NOT NULL),
               sum(system_crashes) / (count(*) / 365.0),
               avg(CASE WHEN battery_health_pct < 60 THEN 1.0 ELSE 0.0 END)
                   FILTER (WHERE device_type = 'laptop' AND battery_health_pct IS NOT NULL),
               avg(CASE WHEN battery_health_pct >= 60 AND battery_health_pct < 80
                        THEN 1.0 ELSE 0.0 END)
                   FILTER (WHERE device_type = 'laptop' AND battery_health_pct IS NOT NULL),
               median(boot_duration_s) FILTER (WHERE model = $slow)
                   / median(boot_duration_s) FILTER (WHERE model <> $slow)
        FROM raw.device_snapshots
        """,
        {"slow": org.SLOW_DISK_MODEL},
    ).fetchall()[0]
    keys = ("sign_ins_over_40s", "blue_screens", "battery_below_60", "battery_60_80")
    return dict(zip((*keys, "slow_model_boot"), row, strict=True))
