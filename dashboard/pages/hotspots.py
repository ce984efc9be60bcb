"""Hotspots: lost hours by service and negative factor for a chosen period, ranked, with a
drill-down into one service."""

import altair as alt
import streamlit as st

from dashboard import data, ui

through = ui.published_or_stop()
st.title("Hotspots")
months = data.frame("SELECT DISTINCT month_start FROM marts.experience_hotspots ORDER BY 1")[
    "month_start"
].map(data.as_date)
if months.empty:
    st.write("No negative factor cited yet.")
    st.stop()
by_label = {f"{d:%Y-%m}": d for d in months}
first, last = st.select_slider(
    "Months",
    options=list(by_label),
    value=(list(by_label)[max(0, len(by_label) - 3)], list(by_label)[-1]),
)
start, end = by_label[first], by_label[last]
labels = ui.service_label(ui.services())
spots = data.frame(
    """
    SELECT service_id, factor, sum(lost_hours) AS lost_hours, sum(responses) AS responses
    FROM marts.experience_hotspots WHERE month_start BETWEEN ? AND ?
    GROUP BY service_id, factor ORDER BY lost_hours DESC
    """,
    [start, end],
)
spots["service"] = spots.service_id.map(lambda s: labels.get(s, s))
st.subheader("Lost hours by service and factor")
st.altair_chart(
    alt.Chart(spots)
    .mark_rect()
    .encode(
        x=alt.X("factor:N", sort="-color"),
        y=alt.Y("service:N", sort="-color"),
        color=alt.Color("lost_hours:Q", title="lost hours"),
        tooltip=["service", "factor", "lost_hours", "responses"],
    ),
    width="stretch",
)
st.subheader("Ranked")
st.dataframe(
    spots[["service", "factor", "lost_hours", "responses"]].head(20),
    hide_index=True,
    width="stretch",
)
service = ui.choose(
    "Drill down into", {labels.get(s, s): s for s in dict.fromkeys(spots.service_id)}
)
detail = data.frame(
    "SELECT month_start, factor, lost_hours, responses, share_of_negative "
    "FROM marts.experience_hotspots "
    "WHERE service_id = ? AND month_start BETWEEN ? AND ? ORDER BY month_start, lost_hours DESC",
    [service, start, end],
)
st.dataframe(detail, hide_index=True, width="stretch")
