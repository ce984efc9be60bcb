"""The weekly XMO session pack: services in scope, issues, warnings, devices, what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reporting import charts
from reporting.html import (
    cell,
    delta,
    low_sample,
    missing,
    note,
    number,
    page,
    percent,
    section,
    table,
)
from reporting.marts import PublishedMarts
from reporting.periods import Period

TREND_WEEKS = 12
# Below this share of resolved tickets answered, the week's scores speak for few people.
RESPONSE_RATE_WARNING = 0.10


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


def _score(row: dict[str, Any] | None, column: str, digits: int = 1, unit: str = "", signed=False):
    if row is None:
        return '<span class="low">no tickets</span>'
    if row["low_sample"]:
        return low_sample(row["responses"])
    return number(row[column], digits, unit, signed)


def _services_section(
    scope: pd.DataFrame,
    this_week: dict[str, dict[str, Any]],
    history: pd.DataFrame,
    weeks: list[Period],
    targets: dict[tuple[str, str], float],
    baselines: dict[tuple[str, str], float],
) -> str:
    rows = []
    for service in scope.itertuples():
        sid = service.service_id
        row = this_week.get(sid)
        series = history[history.service_id == sid].set_index("week_start")
        values = []
        for week in weeks:
            point = series.loc[week.start] if week.start in series.index else None
            value = None if point is None else point["happiness_score"]
            values.append(None if missing(value) else float(value))
        target = targets.get((sid, "happiness_score"))
        rows.append(
            [
                f"{cell(service.service_name)}<br><small>{cell(sid)}</small>",
                _score(row, "happiness_score", signed=True),
                number(baselines.get((sid, "happiness_score")), signed=True),
                number(target, 0, signed=True),
                _score(row, "avg_lost_time_minutes", 0, " min"),
                number(baselines.get((sid, "avg_lost_time_minutes")), 0, " min"),
                number(targets.get((sid, "avg_lost_time_minutes")), 0, " min"),
                "–" if row is None else number(row["total_lost_hours"], 1, " h"),
                "0" if row is None else f"{int(row['responses'])}",
                "–" if row is None else percent(row["response_rate"]),
                charts.trend(values, [w.label for w in weeks], None if missing(target) else target),
            ]
        )
    headers = [
        "Service",
        "Happiness",
        "Baseline",
        "Target",
        "Lost time / answer",
        "Baseline",
        "Target",
        "Lost hours",
        "Answers",
        "Response rate",
        f"Happiness, last {len(weeks)} weeks",
    ]
    return section(
        "Services in XM scope",
        table(headers, rows),
        note(
            "Happiness = % answers 9–10 minus % answers 0–6 (−100…+100). Weeks with fewer "
            "answers than the minimum show as low sample, not as a score; in the trend they "
            "are grey dots on the axis. Dashed line: target."
        ),
    )


def _issues_section(marts: PublishedMarts, week: Period, scope_ids: list[str], this_week) -> str:
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
    rows = [
        [
            f"{cell(r.service_name)} <small>{cell(r.service_id)}</small>",
            cell(r.factor.replace("_", " ")),
            str(int(r.responses)),
            number(r.lost_hours, 1, " h"),
            percent(r.share_of_negative),
        ]
        for r in hotspots.itertuples()
    ]
    return section(
        "Biggest issues",
        "<h3>Lost hours this week, by service</h3>",
        charts.bars(lost, " h") if lost else note("No lost time reported this week."),
        f"<h3>Negative factors, {week.start:%B} so far, by lost hours</h3>",
        table(["Service", "Factor", "Answers", "Lost hours", "Share of negative"], rows, 2)
        if rows
        else note("No negative factors reported this month."),
    )


def _watermelon_section(marts: PublishedMarts, week: Period, scope_ids: list[str]) -> str:
    board = marts.frame(
        "SELECT w.*, s.service_name FROM marts.watermelon_services w "
        "JOIN marts.dim_service s USING (service_id) "
        "WHERE w.month_start = date_trunc('month', CAST(? AS DATE)) "
        "AND w.service_id IN (SELECT unnest(?)) ORDER BY w.is_watermelon DESC, w.service_id",
        [week.start, scope_ids],
    )
    rows = []
    for r in board.itertuples():
        happiness = (
            low_sample(r.responses) if r.low_sample else number(r.happiness_score, signed=True)
        )
        state = '<span class="badge melon">watermelon</span>' if r.is_watermelon else ""
        rows.append(
            [
                f"{cell(r.service_name)} <small>{cell(r.service_id)}</small>",
                f"{percent(r.sla_attainment)} / {percent(r.sla_target)}",
                f"{happiness} / {number(r.happiness_target, 0, signed=True)}",
                state,
            ]
        )
    return section(
        f"Watermelon board, {week.start:%B %Y} so far",
        table(["Service", "SLA met / target", "Happiness / target", ""], rows)
        if rows
        else note("No service in scope has tickets this month."),
        note("Watermelon: green on the SLA, red on experience — SLA target met, happiness below."),
    )


def _response_warnings(scope: pd.DataFrame, this_week, min_rate: float) -> tuple[str, list[str]]:
    rows, warnings = [], []
    for service in scope.itertuples():
        row = this_week.get(service.service_id)
        if row is None:
            continue
        reasons = []
        if row["low_sample"]:
            reasons.append("too few answers to score")
        if not missing(row["response_rate"]) and row["response_rate"] < min_rate:
            reasons.append(f"response rate under {min_rate:.0%}")
        if reasons:
            warnings.append(service.service_id)
            rows.append(
                [
                    f"{cell(service.service_name)} <small>{cell(service.service_id)}</small>",
                    str(int(row["responses"])),
                    str(int(row["tickets_resolved"])),
                    percent(row["response_rate"]),
                    "; ".join(reasons),
                ]
            )
    content = (
        table(["Service", "Answers", "Tickets resolved", "Response rate", "Warning"], rows)
        if rows
        else note("Every service in scope has enough answers this week.")
    )
    return section("Response-rate warnings", content), warnings


def _device_section(marts: PublishedMarts, week: Period) -> str:
    parts = []
    for dimension, label in (("model", "Model"), ("department", "Department")):
        # Groups with fewer than 5 devices carry no score in the mart; they count as devices only.
        frame = marts.frame(
            f"SELECT {dimension} AS name, sum(devices) AS devices, "
            "sum(dex_score * device_days) FILTER (WHERE dex_score IS NOT NULL) "
            "/ sum(device_days) FILTER (WHERE dex_score IS NOT NULL) AS dex_score "
            "FROM marts.device_experience_weekly WHERE week_start = ? "
            f"GROUP BY {dimension} ORDER BY dex_score ASC NULLS LAST, name",
            [week.start],
        )
        rows = [
            [
                cell(r.name),
                str(int(r.devices)),
                low_sample(r.devices) if missing(r.dex_score) else number(r.dex_score),
            ]
            for r in frame.itertuples()
        ]
        parts.append(f"<h3>DEX by {dimension}, worst first</h3>")
        parts.append(
            table([label, "Devices", "DEX (0–100)"], rows)
            if rows
            else note("No device data this week.")
        )
    return section("Device experience", *parts)


def _difference(now, before, column: str, scored: bool) -> float | None:
    """This week minus last week; for scores, only when both weeks had enough answers."""
    if now is None or before is None:
        return None
    if scored and (now["low_sample"] or before["low_sample"]):
        return None
    return now[column] - before[column]


def _changes_section(scope: pd.DataFrame, this_week, last_week, week: Period) -> str:
    rows = []
    for service in scope.itertuples():
        now, before = this_week.get(service.service_id), last_week.get(service.service_id)
        joined = week.start <= service.xm_scope_start <= week.end
        rows.append(
            [
                f"{cell(service.service_name)} <small>{cell(service.service_id)}</small>"
                + (' <span class="badge warn">joined the scope this week</span>' if joined else ""),
                delta(_difference(now, before, "happiness_score", scored=True)),
                delta(
                    _difference(now, before, "avg_lost_time_minutes", scored=True),
                    0,
                    " min",
                    higher_is_better=False,
                ),
                delta(_difference(now, before, "responses", False), 0, higher_is_better=None),
                delta(
                    _difference(now, before, "tickets_resolved", False), 0, higher_is_better=None
                ),
            ]
        )
    return section(
        f"What changed since {week.previous().label}",
        table(["Service", "Happiness", "Lost time / answer", "Answers", "Tickets resolved"], rows),
        note("A change is shown only when both weeks have enough answers to score."),
    )


def build_weekly(marts: PublishedMarts, week: Period) -> WeeklyPack:
    weeks = [week.previous(n) for n in range(TREND_WEEKS - 1, 0, -1)] + [week]
    scope = _scope(marts, week)
    history = _weeks(marts, weeks[0], week)
    this_week = _by_service(history[history.week_start == week.start])
    last_week = _by_service(history[history.week_start == week.previous().start])
    scope_ids = list(scope.service_id)
    warnings_html, warnings = _response_warnings(scope, this_week, RESPONSE_RATE_WARNING)
    sections = [
        _services_section(
            scope, this_week, history, weeks, _targets(marts, week), _baselines(marts)
        )
        if scope_ids
        else section("Services in XM scope", note("No service has joined the XM scope yet.")),
        _issues_section(marts, week, scope_ids, this_week),
        _watermelon_section(marts, week, scope_ids),
        warnings_html,
        _device_section(marts, week),
        _changes_section(scope, this_week, last_week, week),
    ]
    html = page(
        f"XMO weekly session — {week.label}",
        f"{week.title}; {len(scope_ids)} services in XM scope",
        sections,
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
    return WeeklyPack(week, html, services, warnings)
