"""The monthly XMO session pack: the XLA scorecard, month over month, new services, movers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from reporting.html import INDICATORS, Figure, missing, render, service
from reporting.marts import PublishedMarts
from reporting.periods import Period

STATUS_LABEL = {
    "green": "on target",
    "amber": "within tolerance",
    "red": "off target",
    "insufficient_data": "low sample",
}
COMPARED = ("happiness_score", "avg_lost_time_minutes", "sla_attainment", "mttr_hours")
FIRST_MONTH = ("happiness_score", "avg_lost_time_minutes", "sla_attainment")
MOVERS = 5

Intervals = dict[tuple[str, date], tuple[Any, Any]]


@dataclass
class MonthlyPack:
    period: Period
    html: str
    # status per service and indicator, as the scorecard shows it (metadata and tests).
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    new_services: list[str] = field(default_factory=list)


def _scorecard(marts: PublishedMarts, month: Period) -> pd.DataFrame:
    frame = marts.frame(
        "SELECT c.*, s.service_name, s.xm_scope_start FROM marts.xla_scorecard c "
        "JOIN marts.dim_service s USING (service_id) "
        # This month: the services in scope; last month: every service, for the comparison.
        "WHERE (c.month_start = ? AND c.in_scope) OR c.month_start = ? "
        "ORDER BY c.service_id, c.indicator",
        [month.start, month.previous().start],
    )
    frame["month_start"] = pd.to_datetime(frame["month_start"]).dt.date
    return frame


def _happiness_intervals(marts: PublishedMarts, month: Period) -> Intervals:
    """The 95 % interval of each service's monthly happiness, this month and the one before."""
    frame = marts.frame(
        "SELECT service_id, month_start, happiness_ci_low, happiness_ci_high "
        "FROM marts.service_experience_monthly WHERE month_start IN (?, ?)",
        [month.start, month.previous().start],
    )
    frame["month_start"] = pd.to_datetime(frame["month_start"]).dt.date
    return {
        (r.service_id, r.month_start): (r.happiness_ci_low, r.happiness_ci_high)
        for r in frame.itertuples()
    }


def _shown(r: Any, intervals: Intervals) -> str:
    """A scorecard figure as it reads; a month's happiness with its 95 % interval."""
    low, high = (None, None)
    if r.indicator == "happiness_score":
        low, high = intervals.get((r.service_id, r.month_start), (None, None))
    return INDICATORS[r.indicator].with_interval(r.actual, low, high)


def _actual(r: Any, intervals: Intervals) -> Figure | str:
    return Figure("low sample", "low") if r.status == "insufficient_data" else _shown(r, intervals)


def _scorecard_rows(current: pd.DataFrame, indicators: list[str], intervals: Intervals) -> list:
    rows = []
    for sid, group in current.groupby("service_id", sort=True):
        by_indicator = {r.indicator: r for r in group.itertuples()}
        cells = []
        for name in indicators:
            r = by_indicator.get(name)
            if r is None:
                cells.append(None)
                continue
            indicator = INDICATORS[name]
            cells.append(
                {
                    "status": r.status,
                    "shown": _actual(r, intervals),
                    "title": f"{STATUS_LABEL.get(r.status, r.status)}; target "
                    f"{indicator.show(r.target)}, baseline {indicator.show(r.baseline_value)}",
                }
            )
        rows.append({"service": service(group.iloc[0].service_name, sid), "cells": cells})
    return rows


def _comparison_rows(current: pd.DataFrame, before: dict, intervals: Intervals) -> list[dict]:
    rows = []
    for r in current.itertuples():
        if r.indicator not in COMPARED:
            continue
        indicator = INDICATORS[r.indicator]
        last = before.get((r.service_id, r.indicator))
        last_actual = None if last is None else last.actual
        mom = None if missing(r.actual) or missing(last_actual) else r.actual - last_actual
        rows.append(
            {
                "service": service(r.service_name, r.service_id),
                "indicator": indicator.label,
                "this_month": _actual(r, intervals),
                "last_month": "–" if last is None else _shown(last, intervals),
                "change": indicator.change(mom, bool(r.higher_is_better)),
                "baseline": indicator.show(r.baseline_value),
                "vs_baseline": indicator.change(r.delta_vs_baseline, bool(r.higher_is_better)),
            }
        )
    return rows


def _joined(current: pd.DataFrame, month: Period) -> pd.DataFrame:
    """The scorecard rows of the services that joined the XM scope during `month`."""
    scope_start = pd.to_datetime(current["xm_scope_start"]).dt.date
    return current[(scope_start >= month.start) & (scope_start <= month.end)]


def _new_service_rows(joined: pd.DataFrame, intervals: Intervals) -> list[dict]:
    return [
        {
            "service": service(r.service_name, r.service_id),
            "indicator": INDICATORS[r.indicator].label,
            "first_month": _actual(r, intervals),
            "baseline": INDICATORS[r.indicator].show(r.baseline_value),
            "vs_baseline": INDICATORS[r.indicator].change(
                r.delta_vs_baseline, bool(r.higher_is_better)
            ),
        }
        for r in joined.itertuples()
        if r.indicator in FIRST_MONTH
    ]


def _movers(current: pd.DataFrame, before: dict, intervals: Intervals) -> dict[str, list]:
    moves = []
    for r in current.itertuples():
        last = before.get((r.service_id, r.indicator))
        if (
            r.indicator not in INDICATORS
            or missing(r.actual)
            or last is None
            or missing(last.actual)
        ):
            continue
        change = r.actual - last.actual
        scale = 100.0 if INDICATORS[r.indicator].is_share else 1.0
        # Ranked by how much better (or worse) things got, in the indicator's own units.
        gain = change * scale * (1 if r.higher_is_better else -1)
        moves.append((gain, r, last, change))

    def rows(selected):
        return [
            {
                "service": service(r.service_name, r.service_id),
                "indicator": INDICATORS[r.indicator].label,
                "last_month": _shown(last, intervals),
                "this_month": _shown(r, intervals),
                "change": INDICATORS[r.indicator].change(change, bool(r.higher_is_better)),
            }
            for _, r, last, change in selected
        ]

    improvements = sorted((m for m in moves if m[0] > 0), key=lambda m: -m[0])[:MOVERS]
    declines = sorted((m for m in moves if m[0] < 0), key=lambda m: m[0])[:MOVERS]
    return {"improvements": rows(improvements), "declines": rows(declines)}


def build_monthly(marts: PublishedMarts, month: Period) -> MonthlyPack:
    frame = _scorecard(marts, month)
    intervals = _happiness_intervals(marts, month)
    current = frame[frame.month_start == month.start]
    previous = frame[frame.month_start == month.previous().start]
    before = {(r.service_id, r.indicator): r for r in previous.itertuples()}
    indicators = [name for name in INDICATORS if name in set(current.indicator)]
    joined = _joined(current, month)
    html = render(
        "monthly.html",
        month=month,
        previous_month=f"{month.previous().start:%b %Y}",
        this_month=f"{month.start:%b %Y}",
        services_in_scope=current.service_id.nunique(),
        indicators=[INDICATORS[name].label for name in indicators],
        scorecard=_scorecard_rows(current, indicators, intervals),
        statuses=STATUS_LABEL,
        comparison=_comparison_rows(current, before, intervals),
        new_services=_new_service_rows(joined, intervals),
        **_movers(current, before, intervals),
    )
    statuses: dict[str, dict[str, str]] = {}
    for r in current.itertuples():
        statuses.setdefault(r.service_id, {})[r.indicator] = r.status
    return MonthlyPack(month, html, statuses, sorted(set(joined.service_id)))
