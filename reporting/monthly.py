"""The monthly XMO session pack: the XLA scorecard, month over month, new services, movers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reporting.html import cell, delta, missing, note, number, page, percent, section, table
from reporting.marts import PublishedMarts
from reporting.periods import Period


@dataclass(frozen=True)
class Indicator:
    label: str
    digits: int = 1
    unit: str = ""
    signed: bool = False
    is_share: bool = False

    def show(self, value: Any) -> str:
        if self.is_share:
            return percent(value)
        return number(value, self.digits, self.unit, self.signed)

    def change(self, value: Any, higher_is_better: bool) -> str:
        if self.is_share:
            value = None if missing(value) else value * 100
            return delta(value, 0, " pts", higher_is_better)
        return delta(value, self.digits, self.unit, higher_is_better)


INDICATORS = {
    "happiness_score": Indicator("Happiness", signed=True),
    "avg_lost_time_minutes": Indicator("Lost time / answer", 0, " min"),
    "response_rate": Indicator("Response rate", is_share=True),
    "mttr_hours": Indicator("MTTR", 1, " h"),
    "sla_attainment": Indicator("SLA met", is_share=True),
    "reopen_rate": Indicator("Reopen rate", is_share=True),
    "dex_score": Indicator("DEX"),
}
STATUS_LABEL = {
    "green": "on target",
    "amber": "within tolerance",
    "red": "off target",
    "insufficient_data": "low sample",
}
MOVERS = 5


@dataclass
class MonthlyPack:
    period: Period
    html: str
    # status per service and indicator, as the scorecard shows it (metadata and tests).
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    new_services: list[str] = field(default_factory=list)


def _scorecard(marts: PublishedMarts, month: Period) -> pd.DataFrame:
    return marts.frame(
        "SELECT c.*, s.service_name, s.xm_scope_start FROM marts.xla_scorecard c "
        "JOIN marts.dim_service s USING (service_id) "
        # This month: the services in scope; last month: every service, for the comparison.
        "WHERE (c.month_start = ? AND c.in_scope) OR c.month_start = ? "
        "ORDER BY c.service_id, c.indicator",
        [month.start, month.previous().start],
    )


def _service(row: Any) -> str:
    return f"{cell(row.service_name)} <small>{cell(row.service_id)}</small>"


def _scorecard_section(current: pd.DataFrame, indicators: list[str]) -> str:
    rows = []
    for _, group in current.groupby("service_id", sort=True):
        by_indicator = {r.indicator: r for r in group.itertuples()}
        first = group.iloc[0]
        row = [f"{cell(first.service_name)} <small>{cell(first.service_id)}</small>"]
        for name in indicators:
            r = by_indicator.get(name)
            if r is None:
                row.append("–")
                continue
            shown = (
                '<span class="low">low sample</span>'
                if r.status == "insufficient_data"
                else INDICATORS[name].show(r.actual)
            )
            indicator = INDICATORS[name]
            title = (
                f"{STATUS_LABEL.get(r.status, r.status)}; target {indicator.show(r.target)}, "
                f"baseline {indicator.show(r.baseline_value)}"
            )
            row.append(f'<span class="badge {cell(r.status)}" title="{cell(title)}">{shown}</span>')
        rows.append(row)
    legend = " ".join(
        f'<span class="badge {status}">{label}</span>' for status, label in STATUS_LABEL.items()
    )
    return section(
        "XLA scorecard",
        table(["Service", *(INDICATORS[name].label for name in indicators)], rows),
        f'<p class="note">{legend} — amber: misses the target by no more than its tolerance.</p>',
    )


def _comparison_section(current: pd.DataFrame, previous: pd.DataFrame, month: Period) -> str:
    before = {(r.service_id, r.indicator): r.actual for r in previous.itertuples()}
    rows = []
    for r in current.itertuples():
        if r.indicator not in (
            "happiness_score",
            "avg_lost_time_minutes",
            "sla_attainment",
            "mttr_hours",
        ):
            continue
        indicator = INDICATORS[r.indicator]
        last = before.get((r.service_id, r.indicator))
        mom = None if missing(r.actual) or missing(last) else r.actual - last
        rows.append(
            [
                _service(r),
                cell(indicator.label),
                '<span class="low">low sample</span>'
                if r.status == "insufficient_data"
                else indicator.show(r.actual),
                indicator.show(last),
                indicator.change(mom, bool(r.higher_is_better)),
                indicator.show(r.baseline_value),
                indicator.change(r.delta_vs_baseline, bool(r.higher_is_better)),
            ]
        )
    return section(
        "Month over month and against baseline",
        table(
            [
                "Service",
                "Indicator",
                f"{month.start:%b %Y}",
                f"{month.previous().start:%b %Y}",
                "Change",
                "Baseline",
                "vs baseline",
            ],
            rows,
            2,
        ),
    )


def _new_services_section(current: pd.DataFrame, month: Period) -> tuple[str, list[str]]:
    scope_start = pd.to_datetime(current["xm_scope_start"]).dt.date
    joined = current[(scope_start >= month.start) & (scope_start <= month.end)]
    rows = [
        [
            _service(r),
            cell(INDICATORS[r.indicator].label),
            '<span class="low">low sample</span>'
            if r.status == "insufficient_data"
            else INDICATORS[r.indicator].show(r.actual),
            INDICATORS[r.indicator].show(r.baseline_value),
            INDICATORS[r.indicator].change(r.delta_vs_baseline, bool(r.higher_is_better)),
        ]
        for r in joined.itertuples()
        if r.indicator in ("happiness_score", "avg_lost_time_minutes", "sla_attainment")
    ]
    services = sorted(set(joined.service_id))
    content = (
        table(["Service", "Indicator", "First month", "Baseline", "vs baseline"], rows, 2)
        if rows
        else note(f"No service joined the XM scope in {month.start:%B %Y}.")
    )
    return section("Services newly in scope: first month against baseline", content), services


def _movers_section(current: pd.DataFrame, previous: pd.DataFrame) -> str:
    before = {(r.service_id, r.indicator): r.actual for r in previous.itertuples()}
    moves = []
    for r in current.itertuples():
        last = before.get((r.service_id, r.indicator))
        if r.indicator not in INDICATORS or missing(r.actual) or missing(last):
            continue
        change = r.actual - last
        scale = 100.0 if INDICATORS[r.indicator].is_share else 1.0
        # Ranked by how much better (or worse) things got, in the indicator's own units.
        gain = change * scale * (1 if r.higher_is_better else -1)
        moves.append((gain, r, change))

    def rows(selected):
        return [
            [
                _service(r),
                cell(INDICATORS[r.indicator].label),
                INDICATORS[r.indicator].show(before[(r.service_id, r.indicator)]),
                INDICATORS[r.indicator].show(r.actual),
                INDICATORS[r.indicator].change(change, bool(r.higher_is_better)),
            ]
            for _, r, change in selected
        ]

    headers = ["Service", "Indicator", "Last month", "This month", "Change"]
    improvements = sorted((m for m in moves if m[0] > 0), key=lambda m: -m[0])[:MOVERS]
    declines = sorted((m for m in moves if m[0] < 0), key=lambda m: m[0])[:MOVERS]
    return section(
        "Top improvements and declines",
        "<h3>Improvements</h3>",
        table(headers, rows(improvements), 2) if improvements else note("None this month."),
        "<h3>Declines</h3>",
        table(headers, rows(declines), 2) if declines else note("None this month."),
    )


def build_monthly(marts: PublishedMarts, month: Period) -> MonthlyPack:
    frame = _scorecard(marts, month)
    frame["month_start"] = pd.to_datetime(frame["month_start"]).dt.date
    current = frame[frame.month_start == month.start]
    previous = frame[frame.month_start == month.previous().start]
    indicators = [name for name in INDICATORS if name in set(current.indicator)]
    new_html, new_services = _new_services_section(current, month)
    sections = [
        _scorecard_section(current, indicators)
        if len(current)
        else section("XLA scorecard", note("No service was in the XM scope this month.")),
        _comparison_section(current, previous, month),
        new_html,
        _movers_section(current, previous),
    ]
    html = page(
        f"XMO monthly session — {month.label}",
        f"{month.title}; {current.service_id.nunique()} services in XM scope",
        sections,
    )
    statuses: dict[str, dict[str, str]] = {}
    for r in current.itertuples():
        statuses.setdefault(r.service_id, {})[r.indicator] = r.status
    return MonthlyPack(month, html, statuses, new_services)
