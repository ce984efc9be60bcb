"""Devices: DEX by model and department, the DEX bands against the good band with their
intervals, and the devices behind the tickets. Cells of fewer than 5 devices or employees show
no figure (the journey marts' privacy rule, applied before publication)."""

import pandas as pd
import streamlit as st

from dashboard import data, ui

through = ui.published_or_stop()
st.title("Devices")
weeks = data.frame(
    "SELECT DISTINCT week_start FROM marts.device_experience_weekly ORDER BY 1 DESC"
)["week_start"].map(data.as_date)
if weeks.empty:
    st.write("No device data published (is a device source declared?).")
    st.stop()
week = ui.choose("Week", {ui.week_label(d): d for d in weeks})
cells = data.frame(
    """
    SELECT model, department, devices, dex_score, low_sample
    FROM marts.device_experience_weekly WHERE week_start = ?
    """,
    [week],
)
cells["dex"] = [
    ui.low_sample(r.devices) if r.low_sample else ui.figure(r.dex_score, 1)
    for r in cells.itertuples()
]
# Worst models first: by their devices' mean DEX over the visible cells.
order = (
    cells[~cells.low_sample]
    .assign(points=lambda f: f.dex_score * f.devices)
    .groupby("model")[["points", "devices"]]
    .sum()
    .pipe(lambda f: (f.points / f.devices).sort_values())
    .index
)
grid = cells.pivot(index="model", columns="department", values="dex")
grid = grid.reindex([*order, *(m for m in grid.index if m not in set(order))])
st.subheader("DEX by model and department, worst model first")
st.dataframe(grid, width="stretch")

departments = ["all", *sorted(cells.department.unique())]
department = st.selectbox("Department", departments)
months = data.frame(
    "SELECT DISTINCT month_start FROM marts.dex_band_experience_monthly ORDER BY 1 DESC"
)["month_start"].map(data.as_date)
month = ui.choose("Month", {ui.month_label(d): d for d in months})
bands = data.frame(
    """
    SELECT dex_band, employees, tickets_per_100_employees, tickets_ratio_vs_good,
        tickets_ratio_ci_low, tickets_ratio_ci_high, low_sample
    FROM marts.dex_band_experience_monthly WHERE month_start = ? AND department = ?
    ORDER BY CASE dex_band WHEN 'poor' THEN 1 WHEN 'fair' THEN 2 ELSE 3 END
    """,
    [month, department],
)
st.subheader("DEX bands against the good band (tickets per employee)")
st.dataframe(
    pd.DataFrame(
        {
            "band": bands.dex_band,
            "tickets per 100 employees": [
                ui.low_sample(r.employees)
                if r.low_sample
                else ui.figure(r.tickets_per_100_employees, 1)
                for r in bands.itertuples()
            ],
            "× the good band (95 % interval)": [
                "–"
                if r.low_sample
                else ui.interval_text(
                    r.tickets_ratio_vs_good, r.tickets_ratio_ci_low, r.tickets_ratio_ci_high
                )
                for r in bands.itertuples()
            ],
        }
    ),
    hide_index=True,
    width="stretch",
)
journeys = data.frame(
    """
    SELECT model, employees, dex_score, tickets_per_100_employees, hardware_tickets,
        lost_hours_per_100_employees, low_sample
    FROM marts.device_ticket_experience_monthly WHERE month_start = ? AND department = ?
    ORDER BY low_sample, tickets_per_100_employees DESC
    """,
    [month, department],
)
st.subheader("The devices behind the tickets")
hidden = journeys.low_sample
for column in (
    "dex_score",
    "tickets_per_100_employees",
    "hardware_tickets",
    "lost_hours_per_100_employees",
):
    journeys[column] = [
        ui.low_sample(e) if h else ui.figure(v, 1)
        for v, e, h in zip(journeys[column], journeys.employees, hidden, strict=True)
    ]
st.dataframe(journeys.drop(columns=["low_sample"]), hide_index=True, width="stretch")
