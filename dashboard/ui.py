"""What every cockpit page shares: the figures as the packs show them, periods, the low-sample
rule, and the message when nothing is published yet."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from reporting.html import interval, missing, number, plus_minus
from reporting.periods import last_complete_month, last_complete_week

MIN_RESPONSES = 5  # dbt var min_responses: fewer answers publish no figure


def data_through() -> date | None:
    """The last day the published data covers: the latest ticket resolution."""
    return data.as_date(
        data.value("SELECT max(CAST(resolved_at AS DATE)) FROM marts.fct_ticket_experience")
    )


def published_or_stop() -> date:
    """The data's last day, or a message (and the page stops) when nothing is published."""
    try:
        through = data_through()
    except data.NothingPublished as exc:
        st.info(str(exc))
        st.stop()
    if through is None:
        st.info("The published marts hold no resolved tickets yet.")
        st.stop()
    return through


def newest_week(through: date) -> date:
    return last_complete_week(through).start


def newest_month(through: date) -> date:
    return last_complete_month(through).start


def score(value: object, low: object, high: object, responses: object) -> str:
    """A happiness score with its interval, or "low sample (n=…)" as the packs say."""
    if missing(value):
        return low_sample(responses)
    return interval(value, low, high, 0, signed=True)


def minutes(value: object, low: object, high: object, responses: object) -> str:
    if missing(value):
        return low_sample(responses)
    return interval(value, low, high, 0, " min")


def low_sample(responses: object) -> str:
    return f"low sample (n={0 if missing(responses) else int(responses)})"


def noise(value: object, unit: str) -> str:
    return f"within noise ({plus_minus(value, unit)})"


def figure(value: object, digits: int = 1, unit: str = "") -> str:
    return number(value, digits, unit)


def services() -> pd.DataFrame:
    return data.frame(
        "SELECT service_id, service_name, xm_scope_start FROM marts.dim_service "
        "WHERE service_id <> 'unmapped' ORDER BY service_id"
    )


def service_label(services_frame: pd.DataFrame) -> dict[str, str]:
    return {r.service_id: f"{r.service_name} ({r.service_id})" for r in services_frame.itertuples()}


def interval_text(value: object, low: object, high: object, digits: int = 2) -> str:
    return interval(value, low, high, digits)


def choose(label: str, options: dict[str, Any], index: int = 0) -> Any:
    """A select box over what readers read (labels), returning the value behind the choice."""
    shown = st.selectbox(label, list(options), index=index)
    return options[shown]


def choose_many(label: str, options: dict[str, Any]) -> list[Any]:
    """A multi-select of labels, all chosen at first, returning the values behind them."""
    shown = st.multiselect(label, list(options), default=list(options))
    return [options[s] for s in shown]


def week_label(day: date) -> str:
    return f"{day:%G-W%V} (from {day:%d %b %Y})"


def month_label(day: date) -> str:
    return f"{day:%B %Y}"


def rows_height(rows: int, most: int = 25) -> int:
    """A table's height in pixels that shows `rows` rows (up to `most`) without scrolling."""
    return 35 * (min(rows, most) + 1) + 3
