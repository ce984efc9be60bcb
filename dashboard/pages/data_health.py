"""Data health: when the marts were last published, which gates warned or failed, and how many
rows each source quarantined in its latest extracts — from the `health` tables the publication
writes beside the marts."""

import pandas as pd
import streamlit as st

from dashboard import data, ui

through = ui.published_or_stop()
st.title("Data health")
if not data.has_table("health", "publication"):
    st.info(
        "This publication has no health tables yet: the next `xmo run` that publishes writes them."
    )
    st.stop()
published = data.frame("SELECT published_at, run_id FROM health.publication")
left, right = st.columns(2)
left.metric(
    "Published (UTC)",
    f"{published.published_at.iat[0]:%Y-%m-%d %H:%M}" if not published.empty else "–",
)
right.metric("Data through", f"{through:%Y-%m-%d}")

gates = data.frame(
    "SELECT asset, check_name, passed, severity, description, evaluated_at FROM health.gates "
    "ORDER BY passed, severity, asset, check_name"
)
failing = gates[~gates.passed]
st.subheader("Gates")
st.write(
    f"{len(gates)} checks at their latest evaluation: {int(gates.passed.sum())} passed, "
    f"{int((~gates.passed & (gates.severity == 'WARN')).sum())} warned, "
    f"{int((~gates.passed & (gates.severity == 'ERROR')).sum())} failed."
)
if not failing.empty:
    st.dataframe(
        failing.assign(verdict=failing.severity.map({"WARN": "warned", "ERROR": "failed"}))[
            ["verdict", "asset", "check_name", "description", "evaluated_at"]
        ],
        hide_index=True,
        width="stretch",
    )

days = st.slider("Extract days", min_value=7, max_value=90, value=14)
loads = data.frame(
    """
    SELECT source, extract_date, files, rows_read, rows_loaded, rows_quarantined, loaded_at
    FROM health.extract_loads
    WHERE extract_date > (SELECT max(extract_date) FROM health.extract_loads) - ?::INTEGER
    ORDER BY extract_date DESC, source
    """,
    [days],
)
st.subheader("Quarantined rows by source")
summary = loads.groupby("source", as_index=False)[
    ["rows_read", "rows_loaded", "rows_quarantined"]
].sum()
summary["quarantined share"] = (
    summary.rows_quarantined / summary.rows_read.where(summary.rows_read > 0)
).map(lambda v: "–" if pd.isna(v) else f"{100 * v:.2f} %")
st.dataframe(summary, hide_index=True, width="stretch")
st.subheader("Latest extracts")
st.dataframe(loads, hide_index=True, width="stretch")
