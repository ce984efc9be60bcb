"""The monthly XMO session pack: the XLA scorecard, month over month, new services, movers.

Then the devices behind the tickets: models by lost hours, and DEX bands against good devices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from ingestion.declared_sources import ALL_SOURCES
from reporting import charts
from reporting.html import INDICATORS, Figure, chart, low_sample, missing, number, render, service
from reporting.marts import PublishedMarts
from reporting.periods import Period
from reporting.sources import indicators_not_shown, section_notes

STATUS_LABEL = {
    "green": "on target",
    "amber": "within tolerance",
    "red": "off target",
    "insufficient_data": "low sample",
}
COMPARED = ("happiness_score", "avg_lost_time_minutes", "sla_attainment", "mttr_hours")
FIRST_MONTH = ("happiness_score", "avg_lost_time_minutes", "sla_attainment")
MOVERS = 5
# The journey marts of issue 19; a reporting database published before them lacks both.
DEVICE_TICKETS = "device_ticket_experience_monthly"
DEX_BANDS = "dex_band_experience_monthly"
BANDS = ("poor", "fair", "good")
COMPARED_BANDS = ("poor", "fair")  # each against the good band of the same month
# The sections fed by one source alone, the source and what they show.
SECTIONS = {"devices": ("device", "journey of the devices behind the tickets")}

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


def has_mart(marts: PublishedMarts, name: str) -> bool:
    """Whether the publish holds `marts.<name>` (an older one lacks the newer marts)."""
    return bool(
        marts.value(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_name = ?",
            [name],
        )
    )


def device_tickets(marts: PublishedMarts, month_start: date) -> pd.DataFrame | None:
    """The month's models over the whole organisation (department 'all'), ranked.

    The most lost hours per 100 employees first; then the models with too few answers for lost
    time, then those with too few employees to show. None when the publish predates the mart.
    """
    if not has_mart(marts, DEVICE_TICKETS):
        return None
    return marts.frame(
        f"SELECT * FROM marts.{DEVICE_TICKETS} WHERE month_start = ? AND department = 'all' "
        "ORDER BY low_sample, lost_hours_per_100_employees DESC NULLS LAST, "
        "tickets_per_100_employees DESC NULLS LAST, employees DESC, model",
        [month_start],
    )


def hidden(row: Any) -> bool:
    """A journey group the mart marks low sample; an unmarked one is hidden too, to be safe."""
    return missing(row.low_sample) or bool(row.low_sample)


def count(value: Any) -> int:
    """A count as an n: a missing one is none."""
    return 0 if missing(value) else int(value)


def _too_few_answers(responses: Any) -> Figure:
    answers = count(responses)
    return Figure(low_sample(answers).text, "low", f"{answers} answers: too few")


def _model_rows(models: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in models.itertuples():
        name = "unknown model" if missing(r.model) else str(r.model)
        if hidden(r):
            # Fewer than 5 employees: the mart hides their figures, and so does the pack.
            employees = count(r.employees)
            rows.append(
                {
                    "model": name,
                    "low_sample": Figure(
                        low_sample(employees).text, "low", f"{employees} employees: too few"
                    ),
                }
            )
            continue
        lost = r.lost_hours_per_100_employees
        rows.append(
            {
                "model": name,
                "low_sample": None,
                # Enough employees but too few answers about lost time: n counts the answers.
                "lost_hours": _too_few_answers(r.responses)
                if missing(lost)
                else number(lost, 1, " h"),
                "tickets": number(r.tickets_per_100_employees),
                "hardware_tickets": number(r.hardware_tickets, 0),
                "dex": number(r.dex_score),
                "employees": number(r.employees, 0),
            }
        )
    return rows


def dex_bands(marts: PublishedMarts, month_start: date) -> dict[str, Any] | None:
    """The month's DEX bands over the whole organisation, by band; None before the mart."""
    if not has_mart(marts, DEX_BANDS):
        return None
    frame = marts.frame(
        f"SELECT * FROM marts.{DEX_BANDS} WHERE month_start = ? AND department = 'all'",
        [month_start],
    )
    return {r.dex_band: r for r in frame.itertuples()}


def _interval(low: Any, high: Any) -> str | None:
    return None if missing(low) or missing(high) else f"{float(low):.1f}–{float(high):.1f}×"


def _times(ratio: Any, interval: str | None, what: str, lead: str) -> str:
    """A ratio as a sentence reads it, "2.3× the tickets (95 % interval 1.9–2.8×)"."""
    shown = f"{float(ratio):.1f}× the {what}"
    return shown if interval is None else f"{shown} ({lead}{interval})"


def _none_on(band: str, this: Any, good: Any, column: str) -> list[str]:
    """The bands of the comparison whose `column` is zero (a ratio of or to nothing)."""
    return [
        label
        for label, side in ((band, this), ("good", good))
        if not missing(getattr(side, column)) and getattr(side, column) == 0
    ]


def _tickets_reason(band: str, this: Any, good: Any) -> str:
    if none := _none_on(band, this, good, "tickets_opened"):
        return f"those on {' and '.join(none)} devices opened no tickets, so there is no ratio"
    return "the ticket ratio cannot be computed this month"


def _lost_time_reason(band: str, this: Any, good: Any) -> str:
    # The mart shows no lost time for a band with fewer than 5 answers.
    few = [
        f"n = {count(side.responses)} on {label} devices"
        for label, side in ((band, this), ("good", good))
        if missing(side.total_lost_hours)
    ]
    if few:
        return f"too few answers about lost time to compare it ({', '.join(few)})"
    if none := _none_on(band, this, good, "total_lost_hours"):
        return f"those on {' and '.join(none)} devices reported no lost time, so there is no ratio"
    return "the lost-time ratio cannot be computed this month"


def band_sentence(band: str, bands: dict[str, Any]) -> str:
    """How employees on `band` devices fared against those on good ones, or why it cannot say."""
    this, good = bands.get(band), bands.get("good")
    if this is None:
        return f"No employee was on {band} devices this month, so there is nothing to compare."
    if good is None:
        return f"No employee was on good devices this month to compare those on {band} ones with."
    for label, side in ((band, this), ("good", good)):
        if hidden(side):
            n = count(side.employees)
            return f"Too few employees on {label} devices this month (n = {n}) to compare."
    tickets = lost = None
    tickets_interval = _interval(this.tickets_ratio_ci_low, this.tickets_ratio_ci_high)
    if not missing(this.tickets_ratio_vs_good):
        tickets = "opened " + _times(
            this.tickets_ratio_vs_good, tickets_interval, "tickets", "95 % interval "
        )
    if not missing(this.lost_time_ratio_vs_good):
        # Only the sentence's first interval says what the brackets are.
        lead = "" if tickets and tickets_interval else "95 % interval "
        lost = "lost " + _times(
            this.lost_time_ratio_vs_good,
            _interval(this.lost_time_ratio_ci_low, this.lost_time_ratio_ci_high),
            "time",
            lead,
        )
    who = f"Employees on {band} devices"
    if tickets and lost:
        return f"{who} {tickets} and {lost} of those on good ones."
    tickets_why, lost_why = _tickets_reason(band, this, good), _lost_time_reason(band, this, good)
    if tickets:
        return f"{who} {tickets} of those on good ones; {lost_why}."
    if lost:
        return f"{who} {lost} of those on good ones; {tickets_why}."
    return f"{who} cannot be compared with those on good ones: {tickets_why}; {lost_why}."


def _band_chart(bands: dict[str, Any]) -> str:
    """Tickets per 100 employees by band; a band with too few employees draws no bar."""
    items: list[tuple[str, float | None]] = []
    for band in BANDS:
        r = bands.get(band)
        employees = 0 if r is None else count(r.employees)
        value = None if r is None or hidden(r) else r.tickets_per_100_employees
        items.append((f"{band} (n={employees})", None if missing(value) else float(value)))
    return charts.columns(items)


def _devices_behind_the_tickets(marts: PublishedMarts, month: Period) -> dict[str, Any]:
    """The section's figures; None for a part whose mart the publish predates."""
    models = device_tickets(marts, month.start)
    bands = dex_bands(marts, month.start)
    comparisons = None
    if bands is not None:
        comparisons = [band_sentence(band, bands) for band in COMPARED_BANDS] if bands else []
    return {
        "device_models": None if models is None else _model_rows(models),
        "band_comparisons": comparisons,
        "band_chart": chart(_band_chart(bands)) if bands else None,
    }


def _declared_indicators(
    frame: pd.DataFrame, sources: Iterable[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The scorecard rows of indicators whose source is declared, and a line naming the others."""
    declared = set(sources)
    source = frame["indicator"].map(
        lambda name: INDICATORS[name].source if name in INDICATORS else "itsm"
    )
    left_out: dict[str, list[str]] = {}
    for name in INDICATORS:
        if INDICATORS[name].source not in declared and name in set(frame["indicator"]):
            left_out.setdefault(INDICATORS[name].source, []).append(INDICATORS[name].label)
    return frame[source.isin(declared)], indicators_not_shown(left_out)


def build_monthly(
    marts: PublishedMarts, month: Period, sources: Iterable[str] = ALL_SOURCES
) -> MonthlyPack:
    """The pack of `month`; indicators and sections of sources not in `sources` are left out,
    with a line saying so."""
    frame, indicators_left_out = _declared_indicators(_scorecard(marts, month), sources)
    intervals = _happiness_intervals(marts, month)
    current = frame[frame.month_start == month.start]
    previous = frame[frame.month_start == month.previous().start]
    before = {(r.service_id, r.indicator): r for r in previous.itertuples()}
    indicators = [name for name in INDICATORS if name in set(current.indicator)]
    joined = _joined(current, month)
    html = render(
        "monthly.html",
        not_configured=section_notes(SECTIONS, sources),
        indicators_left_out=indicators_left_out,
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
        **_devices_behind_the_tickets(marts, month),
    )
    statuses: dict[str, dict[str, str]] = {}
    for r in current.itertuples():
        statuses.setdefault(r.service_id, {})[r.indicator] = r.status
    return MonthlyPack(month, html, statuses, sorted(set(joined.service_id)))
