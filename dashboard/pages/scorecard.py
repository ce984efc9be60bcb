"""The XLA scorecard for a month: green, amber and red cells, and month over month."""

import pandas as pd
import streamlit as st

from dashboard import data, ui

through = ui.published_or_stop()
st.title("Scorecard")
months = data.frame(
    "SELECT DISTINCT month_start FROM marts.xla_scorecard WHERE month_start <= ? "
    "ORDER BY month_start DESC",
    [ui.newest_month(through)],
)["month_start"].map(data.as_date)
if months.empty:
    st.write("No scorecard month published yet.")
    st.stop()
month = ui.choose("Month", {ui.month_label(d): d for d in months})
only_in_scope = st.checkbox("Services in XM scope only", value=True)
labels = ui.service_label(ui.services())
cells = data.frame(
    """
    SELECT s.service_id, s.indicator, s.actual, s.target, s.status, s.in_scope,
        p.status AS previous_status
    FROM marts.xla_scorecard s
    LEFT JOIN marts.xla_scorecard p ON p.service_id = s.service_id AND p.indicator = s.indicator
        AND p.month_start = s.month_start - INTERVAL 1 MONTH
    WHERE s.month_start = ?
    """,
    [month],
)
if only_in_scope:
    cells = cells[cells.in_scope]
COLOURS = {"green": "#c8e6c9", "amber": "#ffe0b2", "red": "#ffcdd2", "insufficient_data": "#eeeeee"}
STATUS = {"insufficient_data": "low sample"}


def shown(r) -> str:
    status = STATUS.get(r.status, r.status)
    if r.status == "insufficient_data":
        return status
    was = (
        ""
        if pd.isna(r.previous_status)
        else f" (was {STATUS.get(r.previous_status, r.previous_status)})"
    )
    return f"{status}: {ui.figure(r.actual, 2)} vs {ui.figure(r.target, 2)}{was}"


table = cells.assign(
    cell=[shown(r) for r in cells.itertuples()], service=cells.service_id.map(labels)
)
grid = table.pivot(index="service", columns="indicator", values="cell").fillna("–")
status = table.pivot(index="service", columns="indicator", values="status")
st.dataframe(
    grid.style.apply(
        lambda col: [f"background-color: {COLOURS.get(s, '')}" for s in status[col.name]]
    ),
    width="stretch",
    height=ui.rows_height(len(grid)),
)
counts = cells.status.value_counts()
st.caption(" · ".join(f"{STATUS.get(k, k)}: {v}" for k, v in counts.items()))
