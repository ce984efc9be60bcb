"""This week: every in-scope service against baseline and target, what changed beyond noise,
and the week's experience alerts."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import data, ui

through = ui.published_or_stop()
weeks = data.frame(
    "SELECT DISTINCT week_start FROM marts.service_experience_weekly "
    "WHERE week_start <= ? ORDER BY week_start DESC",
    [ui.newest_week(through)],
)["week_start"].map(data.as_date)
st.title("This week")
week = ui.choose("Week", {ui.week_label(d): d for d in weeks})
week_end = week + timedelta(days=6)
catalog = ui.services()
labels = ui.service_label(catalog)
in_scope = catalog[
    catalog.xm_scope_start.map(data.as_date).map(lambda d: d is not None and d <= week_end)
]
chosen = ui.choose_many("Services", {labels[s]: s for s in in_scope.service_id})

rows = data.frame(
    """
    SELECT w.service_id, w.responses, w.happiness_score, w.happiness_ci_low, w.happiness_ci_high,
        w.avg_lost_time_minutes, w.lost_time_ci_low, w.lost_time_ci_high, w.response_rate,
        hb.baseline_value AS happiness_baseline, lb.baseline_value AS lost_time_baseline,
        ht.target AS happiness_target, lt.target AS lost_time_target
    FROM marts.service_experience_weekly w
    LEFT JOIN marts.xla_baseline hb
        ON hb.service_id = w.service_id AND hb.indicator = 'happiness_score'
    LEFT JOIN marts.xla_baseline lb
        ON lb.service_id = w.service_id AND lb.indicator = 'avg_lost_time_minutes'
    LEFT JOIN marts.xla_scorecard ht ON ht.service_id = w.service_id
        AND ht.indicator = 'happiness_score' AND ht.month_start = date_trunc('month', w.week_start)
    LEFT JOIN marts.xla_scorecard lt ON lt.service_id = w.service_id
        AND lt.indicator = 'avg_lost_time_minutes'
        AND lt.month_start = date_trunc('month', w.week_start)
    WHERE w.week_start = ?
    ORDER BY w.service_id
    """,
    [week],
)
rows = rows[rows.service_id.isin(chosen)]
st.subheader("Services in XM scope")
# A plain table: every in-scope service at once, readable as text (and printable).
st.table(
    pd.DataFrame(
        {
            "service": rows.service_id.map(labels),
            "happiness (95 % interval)": [
                ui.score(r.happiness_score, r.happiness_ci_low, r.happiness_ci_high, r.responses)
                for r in rows.itertuples()
            ],
            "baseline": rows.happiness_baseline.map(lambda v: ui.figure(v, 0)),
            "target": rows.happiness_target.map(lambda v: ui.figure(v, 0)),
            "lost time (95 % interval)": [
                ui.minutes(
                    r.avg_lost_time_minutes, r.lost_time_ci_low, r.lost_time_ci_high, r.responses
                )
                for r in rows.itertuples()
            ],
            "lost-time baseline": rows.lost_time_baseline.map(lambda v: ui.figure(v, 0, " min")),
            "lost-time target": rows.lost_time_target.map(lambda v: ui.figure(v, 0, " min")),
            "answers": rows.responses,
        }
    ).set_index("service")
)

changes = data.frame(
    """
    SELECT service_id, indicator, reference_kind, value, reference_value, delta, q_value,
        is_significant, direction, minimum_detectable_change, n, reference_n
    FROM marts.experience_changes WHERE week_start = ?
    ORDER BY is_significant DESC, q_value, service_id, indicator, reference_kind
    """,
    [week],
)
changes = changes[changes.service_id.isin(chosen)]
unit = {"happiness_score": " pts", "avg_lost_time_minutes": " min"}
st.subheader("What changed")
if changes.empty:
    st.write("No comparison this week: a service needs a reference window with answers.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "service": changes.service_id.map(labels),
                "indicator": changes.indicator.map(
                    {"happiness_score": "happiness", "avg_lost_time_minutes": "lost time"}
                ),
                "against": changes.reference_kind.str.replace("_", " "),
                "now": changes.value.map(lambda v: ui.figure(v, 0)),
                "before": changes.reference_value.map(lambda v: ui.figure(v, 0)),
                "change": changes.delta.map(lambda v: ui.figure(v, 0)),
                "judgement": [
                    r.direction
                    if r.is_significant
                    else ui.noise(r.minimum_detectable_change, unit[r.indicator])
                    for r in changes.itertuples()
                ],
                "q": changes.q_value.map(lambda v: "–" if pd.isna(v) else f"{v:.3f}"),
            }
        ),
        hide_index=True,
        width="stretch",
    )

alerts = changes[changes.is_significant & (changes.direction == "worse")]
st.subheader("Experience alerts")
if alerts.empty:
    st.write("No significant drop this week.")
for r in alerts.drop_duplicates(["service_id", "indicator"]).itertuples():
    name = "happiness" if r.indicator == "happiness_score" else "lost time"
    st.warning(
        f"{labels.get(r.service_id, r.service_id)}: {name} {ui.figure(r.reference_value, 0)} → "
        f"{ui.figure(r.value, 0)} against the {r.reference_kind.replace('_', ' ')}"
        f" (q {r.q_value:.3f})"
    )
