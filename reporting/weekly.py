"""The weekly XMO session pack: services in scope, issues, warnings, devices, what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ingestion.declared_sources import ALL_SOURCES
from reporting import charts
from reporting.html import (
    INDICATORS,
    Figure,
    chart,
    low_sample,
    missing,
    number,
    percent,
    render,
    service,
)
from reporting.marts import PublishedMarts
from reporting.monthly import count, device_tickets, hidden
from reporting.periods import Period, month_of
from reporting.sources import section_notes

TREND_WEEKS = 12
# Below this share of resolved tickets answered, the week's scores speak for few people.
RESPONSE_RATE_WARNING = 0.10
REFERENCE_KINDS = {"previous_4_weeks": "vs previous 4 weeks", "baseline": "vs baseline"}
# Each section of the pack, the source it needs and what it shows.
SECTIONS = {
    "services": ("survey", "happiness or lost time by service"),
    "issues": ("survey", "lost time or negative factor"),
    "watermelons": ("survey", "happiness to set against the SLA"),
    "warnings": ("survey", "response rate"),
    "devices": ("device", "device experience"),
    "changes": ("survey", "change in happiness or lost time"),
}
DIRECTION_CSS = {"better": "up", "worse": "down"}


@dataclass
class WeeklyPack:
    period: Period
    html: str
    # Figures the pack shows, for Dagster metadata and tests: service -> {indicator: value}.
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _scope(marts: PublishedMarts, week: Period) -> pd.DataFrame:
    frame = marts.frame(
        "SELECT service_id, service_name, xm_scope_start FROM marts.dim_service "
        "WHERE xm_scope_start <= ? AND service_id <> 'unmapped' ORDER BY service_id",
        [week.end],
    )
    frame["xm_scope_start"] = pd.to_datetime(frame["xm_scope_start"]).dt.date
    return frame


def _weeks(marts: PublishedMarts, first: Period, week: Period) -> pd.DataFrame:
    frame = marts.frame(
        "SELECT * FROM marts.service_experience_weekly WHERE week_start BETWEEN ? AND ?",
        [first.start, week.start],
    )
    frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.date
    return frame


def _by_service(frame: pd.DataFrame, key: str = "service_id") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in frame.to_dict("records")}


def _targets(marts: PublishedMarts, week: Period) -> dict[tuple[str, str], float]:
    frame = marts.frame(
        "SELECT service_id, indicator, target FROM marts.xla_scorecard "
        "WHERE month_start = date_trunc('month', CAST(? AS DATE))",
        [week.start],
    )
    return {(r.service_id, r.indicator): r.target for r in frame.itertuples()}


def _baselines(marts: PublishedMarts) -> dict[tuple[str, str], float]:
    frame = marts.frame("SELECT service_id, indicator, baseline_value FROM marts.xla_baseline")
    return {(r.service_id, r.indicator): r.baseline_value for r in frame.itertuples()}


def _changes(marts: PublishedMarts, week: Period, scope_ids: list[str]) -> pd.DataFrame:
    """The week's tests of change, significant ones first (the most certain first)."""
    return marts.frame(
        "SELECT c.*, s.service_name FROM marts.experience_changes c "
        "JOIN marts.dim_service s USING (service_id) "
        "WHERE c.week_start = ? AND c.service_id IN (SELECT unnest(?)) "
        "ORDER BY c.is_significant DESC, CASE WHEN c.is_significant THEN c.q_value END NULLS LAST, "
        "c.service_id, c.indicator = 'avg_lost_time_minutes', c.reference_kind = 'baseline'",
        [week.start, scope_ids],
    )


def _score(row: dict[str, Any] | None, column: str, digits: int = 1, unit: str = "", signed=False):
    if row is None:
        return Figure("no tickets", "low")
    if row["low_sample"]:
        return low_sample(row["responses"])
    return number(row[column], digits, unit, signed)


def _happiness_trend(series: pd.DataFrame, weeks: list[Period], target: float | None) -> str:
    """The service's weekly happiness, each scored week with its interval as a whisker."""
    values: list[float | None] = []
    intervals: list[tuple[float, float] | None] = []
    for week in weeks:
        point = series.loc[week.start] if week.start in series.index else {}
        value = point.get("happiness_score")
        low, high = point.get("happiness_ci_low"), point.get("happiness_ci_high")
        values.append(None if missing(value) else float(value))
        intervals.append(None if missing(low) or missing(high) else (float(low), float(high)))
    return charts.trend(
        values,
        [w.label for w in weeks],
        None if missing(target) else target,
        intervals=intervals,
    )


def _service_rows(
    scope: pd.DataFrame,
    this_week: dict[str, dict[str, Any]],
    history: pd.DataFrame,
    weeks: list[Period],
    targets: dict[tuple[str, str], float],
    baselines: dict[tuple[str, str], float],
    detectable: dict[str, float],
) -> list[dict[str, Any]]:
    week = weeks[-1]
    rows = []
    for s in scope.itertuples():
        sid = s.service_id
        row = this_week.get(sid)
        target = targets.get((sid, "happiness_score"))
        joined = week.start <= s.xm_scope_start <= week.end
        rows.append(
            {
                "service": service(
                    s.service_name, sid, "joined the scope this week" if joined else ""
                ),
                "happiness": _score(row, "happiness_score", signed=True),
                "happiness_baseline": number(baselines.get((sid, "happiness_score")), signed=True),
                "happiness_target": number(target, 0, signed=True),
                "lost_time": _score(row, "avg_lost_time_minutes", 0, " min"),
                "lost_time_baseline": number(
                    baselines.get((sid, "avg_lost_time_minutes")), 0, " min"
                ),
                "lost_time_target": number(targets.get((sid, "avg_lost_time_minutes")), 0, " min"),
                "lost_hours": "–" if row is None else number(row["total_lost_hours"], 1, " h"),
                "responses": "0" if row is None else f"{int(row['responses'])}",
                "response_rate": "–" if row is None else percent(row["response_rate"]),
                "detectable_change": INDICATORS["happiness_score"].noise(detectable.get(sid)),
                "trend": chart(
                    _happiness_trend(
                        history[history.service_id == sid].set_index("week_start"), weeks, target
                    )
                ),
            }
        )
    return rows


def _issues(marts: PublishedMarts, week: Period, scope_ids: list[str], this_week) -> dict:
    lost = sorted(
        (
            (sid, float(this_week[sid]["total_lost_hours"]))
            for sid in scope_ids
            if sid in this_week and not missing(this_week[sid]["total_lost_hours"])
        ),
        key=lambda item: -item[1],
    )[:10]
    hotspots = marts.frame(
        "SELECT h.service_id, s.service_name, h.factor, h.responses, h.lost_hours, "
        "h.share_of_negative FROM marts.experience_hotspots h "
        "JOIN marts.dim_service s USING (service_id) "
        "WHERE h.month_start = date_trunc('month', CAST(? AS DATE)) AND h.service_id IN "
        "(SELECT unnest(?)) ORDER BY h.lost_hours DESC, h.service_id, h.factor LIMIT 10",
        [week.start, scope_ids],
    )
    return {
        "lost_hours_chart": chart(charts.bars(lost, " h")) if lost else None,
        "hotspots": [
            {
                "service": service(r.service_name, r.service_id),
                "factor": r.factor.replace("_", " "),
                "responses": str(int(r.responses)),
                "lost_hours": number(r.lost_hours, 1, " h"),
                "share_of_negative": percent(r.share_of_negative),
            }
            for r in hotspots.itertuples()
        ],
    }


def _watermelons(marts: PublishedMarts, week: Period, scope_ids: list[str]) -> list[dict]:
    board = marts.frame(
        "SELECT w.*, s.service_name FROM marts.watermelon_services w "
        "JOIN marts.dim_service s USING (service_id) "
        "WHERE w.month_start = date_trunc('month', CAST(? AS DATE)) "
        "AND w.service_id IN (SELECT unnest(?)) ORDER BY w.is_watermelon DESC, w.service_id",
        [week.start, scope_ids],
    )
    return [
        {
            "service": service(r.service_name, r.service_id),
            "sla": percent(r.sla_attainment),
            "sla_target": percent(r.sla_target),
            "happiness": low_sample(r.responses)
            if r.low_sample
            else number(r.happiness_score, signed=True),
            "happiness_target": number(r.happiness_target, 0, signed=True),
            "is_watermelon": bool(r.is_watermelon),
        }
        for r in board.itertuples()
    ]


def _response_warnings(scope: pd.DataFrame, this_week, min_rate: float) -> list[dict]:
    rows = []
    for s in scope.itertuples():
        row = this_week.get(s.service_id)
        if row is None:
            continue
        reasons = []
        if row["low_sample"]:
            reasons.append("too few answers to score")
        if not missing(row["response_rate"]) and row["response_rate"] < min_rate:
            reasons.append(f"response rate under {min_rate:.0%}")
        if reasons:
            rows.append(
                {
                    "service": service(s.service_name, s.service_id),
                    "responses": str(int(row["responses"])),
                    "tickets_resolved": str(int(row["tickets_resolved"])),
                    "response_rate": percent(row["response_rate"]),
                    "reasons": "; ".join(reasons),
                }
            )
    return rows


def _device_groups(marts: PublishedMarts, week: Period) -> dict[str, pd.DataFrame]:
    """The week's DEX by model (over departments) and by department (over models), worst first."""
    groups = {}
    for dimension in ("model", "department"):
        # Groups with fewer than 5 devices carry no score in the mart; they count as devices only.
        groups[dimension] = marts.frame(
            f"SELECT {dimension} AS name, sum(devices) AS devices, "
            "sum(dex_score * device_days) FILTER (WHERE dex_score IS NOT NULL) "
            "/ sum(device_days) FILTER (WHERE dex_score IS NOT NULL) AS dex_score "
            "FROM marts.device_experience_weekly WHERE week_start = ? "
            f"GROUP BY {dimension} ORDER BY dex_score ASC NULLS LAST, name",
            [week.start],
        )
    return groups


def _devices(groups: dict[str, pd.DataFrame]) -> list[dict]:
    return [
        {
            "dimension": dimension,
            "label": dimension.capitalize(),
            "rows": [
                {
                    "name": "" if missing(r.name) else str(r.name),
                    "devices": str(int(r.devices)),
                    "dex": low_sample(r.devices) if missing(r.dex_score) else number(r.dex_score),
                }
                for r in frame.itertuples()
            ],
        }
        for dimension, frame in groups.items()
    ]


def _journey(marts: PublishedMarts, month: Period, model: str) -> str:
    """What the model's users went through in the week's month, as the callout says it."""
    models = device_tickets(marts, month.start)
    if models is None:
        return "its journey figures need a newer publish"
    rows = models[models.model == model]
    if rows.empty:
        return "no journey figures yet"
    row = next(rows.itertuples())
    if hidden(row):
        users = count(row.employees)
        return f"too few of its users in {month.title} for journey figures (n={users})"
    tickets = number(row.tickets_per_100_employees)
    if missing(row.lost_hours_per_100_employees):
        return (
            f"in {month.title} its users opened {tickets} tickets per 100 employees "
            f"(too few answers for lost time, n={count(row.responses)})"
        )
    lost = number(row.lost_hours_per_100_employees)
    return (
        f"in {month.title} its users opened {tickets} tickets and lost {lost} hours "
        "per 100 employees"
    )


def _worst_model(
    marts: PublishedMarts, week: Period, models: pd.DataFrame
) -> dict[str, str] | None:
    """The model with the lowest DEX this week (the device table's first scored row)."""
    scored = models[models.dex_score.notna()]
    if scored.empty:
        return None
    worst = scored.iloc[0]
    return {
        "model": str(worst["name"]),
        "dex": number(worst.dex_score),
        "devices": str(int(worst.devices)),
        "journey": _journey(marts, month_of(week.start), worst["name"]),
    }


def _change_rows(changes: pd.DataFrame) -> list[dict[str, Any]]:
    """Each test of change: from the reference to this week, judged significant or noise."""
    rows = []
    for r in changes.itertuples():
        indicator = INDICATORS[r.indicator]
        direction = None if missing(r.direction) else str(r.direction)
        # Only a significant change is coloured: a move within noise is neither better nor worse.
        css = DIRECTION_CSS.get(direction, "") if r.is_significant else ""
        if r.is_significant:
            judgement = Figure(
                direction or "changed",
                css,
                f"p = {r.p_value:.2g}, q = {r.q_value:.2g} (Benjamini–Hochberg)",
            )
        else:
            judgement = Figure(
                f"within noise ({indicator.noise(r.minimum_detectable_change)})", "low"
            )
        rows.append(
            {
                "service": service(r.service_name, r.service_id),
                "indicator": indicator.label,
                "reference": REFERENCE_KINDS.get(r.reference_kind, r.reference_kind),
                "answers": f"{int(r.reference_n)} → {int(r.n)}",
                "before": indicator.with_interval(
                    r.reference_value, r.reference_ci_low, r.reference_ci_high
                ),
                "after": indicator.with_interval(r.value, r.value_ci_low, r.value_ci_high),
                "change": Figure(
                    number(r.delta, indicator.digits, indicator.unit, signed=True), css
                ),
                "judgement": judgement,
            }
        )
    return rows


def _unmapped(marts: PublishedMarts, week: Period, limit: float | None) -> str | None:
    """A line when more of the week's resolved tickets than `limit` map to no service."""
    resolved, unmapped = marts.unmapped_in_week(week.start)
    if limit is None or not resolved or unmapped / resolved <= limit:
        return None
    return (
        f"{unmapped / resolved:.0%} of the {resolved:,} tickets resolved this week map to no "
        f"service (unmapped, over {limit:.0%}): their figures count under no service here. "
        "Add mapping rules for them (xmo services suggest drafts them; docs/sources.md)."
    )


def build_weekly(
    marts: PublishedMarts,
    week: Period,
    sources: Iterable[str] = ALL_SOURCES,
    unmapped_share_max: float | None = None,
) -> WeeklyPack:
    """The pack of `week`; a section whose source is not in `sources` is one line instead, and
    a line says when more than `unmapped_share_max` of the week's tickets map to no service."""
    weeks = [week.previous(n) for n in range(TREND_WEEKS - 1, 0, -1)] + [week]
    scope = _scope(marts, week)
    history = _weeks(marts, weeks[0], week)
    this_week = _by_service(history[history.week_start == week.start])
    scope_ids = list(scope.service_id)
    changes = _changes(marts, week, scope_ids)
    # What a change of happiness against the previous 4 weeks must exceed to be told from noise.
    detectable = {
        r.service_id: r.minimum_detectable_change
        for r in changes.itertuples()
        if r.indicator == "happiness_score" and r.reference_kind == "previous_4_weeks"
    }
    warnings = _response_warnings(scope, this_week, RESPONSE_RATE_WARNING)
    devices = _device_groups(marts, week)
    html = render(
        "weekly.html",
        not_configured=section_notes(SECTIONS, sources),
        unmapped=_unmapped(marts, week, unmapped_share_max),
        week=week,
        services_in_scope=len(scope_ids),
        services=_service_rows(
            scope,
            this_week,
            history,
            weeks,
            _targets(marts, week),
            _baselines(marts),
            detectable,
        ),
        trend_weeks=len(weeks),
        month_name=f"{week.start:%B}",
        month_title=f"{week.start:%B %Y}",
        **_issues(marts, week, scope_ids, this_week),
        watermelons=_watermelons(marts, week, scope_ids),
        warnings=warnings,
        devices=_devices(devices),
        worst_model=_worst_model(marts, week, devices["model"]),
        changes=_change_rows(changes),
    )
    services = {
        sid: {
            "happiness_score": None
            if this_week[sid]["low_sample"]
            else this_week[sid]["happiness_score"],
            "responses": int(this_week[sid]["responses"]),
            "low_sample": bool(this_week[sid]["low_sample"]),
        }
        for sid in scope_ids
        if sid in this_week
    }
    return WeeklyPack(week, html, services, [row["service"]["id"] for row in warnings])
