"""One service over time: weekly happiness with its intervals against baseline and target, lost
time, MTTR and SLA beside it (a watermelon shows), its channels, its costliest factors and its
scorecard history."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

through = ui.published_or_stop()
catalog = ui.services()
labels = ui.service_label(catalog)
st.title("Service")
service = ui.choose("Service", {labels[s]: s for s in catalog.service_id})
weeks = data.frame(
    """
    SELECT week_start, responses, happiness_score, happiness_ci_low, happiness_ci_high,
        avg_lost_time_minutes, mttr_hours, sla_attainment, low_sample
    FROM marts.service_experience_weekly
    WHERE service_id = ? AND week_start <= ? ORDER BY week_start
    """,
    [service, ui.newest_week(through)],
)
if weeks.empty:
    st.write("No published week for this service yet.")
    st.stop()
first, last = weeks.week_start.min().date(), weeks.week_start.max().date()
start, end = st.slider(
    "Weeks", min_value=first, max_value=last, value=(first, last), format="YYYY-MM-DD"
)
weeks = weeks[(weeks.week_start.dt.date >= start) & (weeks.week_start.dt.date <= end)]
reference = data.frame(
    """
    SELECT b.indicator, b.baseline_value, b.p25, b.p75, t.target
    FROM marts.xla_baseline b
    LEFT JOIN marts.xla_scorecard t ON t.service_id = b.service_id AND t.indicator = b.indicator
        AND t.month_start = (SELECT max(month_start) FROM marts.xla_scorecard)
    WHERE b.service_id = ?
    """,
    [service],
).set_index("indicator")

scored = weeks[~weeks.low_sample]
base = alt.Chart(scored).encode(x=alt.X("week_start:T", title="week"))
layers = [
    base.mark_rule(color="#8aa").encode(y="happiness_ci_low:Q", y2="happiness_ci_high:Q"),
    base.mark_line(point=True).encode(
        y=alt.Y("happiness_score:Q", title="happiness", scale=alt.Scale(domain=[-100, 100])),
        tooltip=[
            "week_start:T",
            "happiness_score:Q",
            "happiness_ci_low:Q",
            "happiness_ci_high:Q",
            "responses:Q",
        ],
    ),
]
if "happiness_score" in reference.index:
    ref = reference.loc["happiness_score"]
    band = pd.DataFrame({"low": [ref.p25], "high": [ref.p75], "target": [ref.target]})
    layers.insert(
        0, alt.Chart(band).mark_rect(opacity=0.15, color="green").encode(y="low:Q", y2="high:Q")
    )
    if not pd.isna(ref.target):
        layers.append(
            alt.Chart(band).mark_rule(strokeDash=[4, 4], color="black").encode(y="target:Q")
        )
st.subheader("Happiness, week by week (95 % intervals; baseline band; target dashed)")
st.altair_chart(alt.layer(*layers), width="stretch")
hidden = weeks[weeks.low_sample]
if not hidden.empty:
    st.caption(
        "Not shown: "
        + ", ".join(
            f"{d:%G-W%V} {ui.low_sample(n)}"
            for d, n in zip(hidden.week_start, hidden.responses, strict=True)
        )
    )

left, right = st.columns(2)
with left:
    st.subheader("Lost time (minutes per answer)")
    st.altair_chart(
        alt.Chart(scored)
        .mark_line(point=True)
        .encode(
            x=alt.X("week_start:T", title="week"),
            y=alt.Y("avg_lost_time_minutes:Q", title="minutes"),
        ),
        width="stretch",
    )
with right:
    st.subheader("MTTR and SLA beside it")
    sla = weeks.assign(sla_percent=weeks.sla_attainment * 100)
    st.altair_chart(
        alt.layer(
            alt.Chart(sla)
            .mark_line(color="#c33")
            .encode(x="week_start:T", y=alt.Y("sla_percent:Q", title="SLA attainment %")),
            alt.Chart(sla)
            .mark_line(color="#36c")
            .encode(x="week_start:T", y=alt.Y("mttr_hours:Q", title="MTTR hours")),
        ).resolve_scale(y="independent"),
        width="stretch",
    )

watermelons = data.frame(
    "SELECT month_start, sla_attainment, happiness_score FROM marts.watermelon_services "
    "WHERE service_id = ? AND is_watermelon ORDER BY month_start",
    [service],
)
if not watermelons.empty:
    st.warning(
        "Watermelon (SLA green, experience red) in "
        + ", ".join(f"{d:%B %Y}" for d in watermelons.month_start)
    )

channels = data.frame(
    """
    SELECT channel, count(*) AS tickets, count(happiness) AS answers,
        100.0 * (count(*) FILTER (WHERE happiness >= 9) - count(*) FILTER (WHERE happiness <= 6))
            / nullif(count(happiness), 0) AS happiness_score
    FROM marts.fct_ticket_experience
    WHERE service_id = ? AND CAST(resolved_at AS DATE) BETWEEN ? AND ?
    GROUP BY channel ORDER BY tickets DESC
    """,
    [service, start, end + pd.Timedelta(days=6)],
)
st.subheader("Channels")
st.dataframe(
    pd.DataFrame(
        {
            "channel": channels.channel,
            "tickets": channels.tickets,
            "happiness": [
                ui.low_sample(r.answers)
                if r.answers < ui.MIN_RESPONSES
                else ui.figure(r.happiness_score, 0)
                for r in channels.itertuples()
            ],
            "answers": channels.answers,
        }
    ),
    hide_index=True,
    width="stretch",
)

factors = data.frame(
    """
    SELECT factor, sum(lost_hours) AS lost_hours, sum(responses) AS responses
    FROM marts.experience_hotspots
    WHERE service_id = ? AND month_start BETWEEN date_trunc('month', CAST(? AS DATE)) AND ?
    GROUP BY factor ORDER BY lost_hours DESC LIMIT 10
    """,
    [service, start, end],
)
st.subheader("Top negative factors by lost hours")
st.dataframe(factors, hide_index=True, width="stretch")

history = data.frame(
    "SELECT month_start, indicator, status FROM marts.xla_scorecard WHERE service_id = ? "
    "ORDER BY month_start",
    [service],
)
st.subheader("Scorecard history")
if not history.empty:
    st.dataframe(
        history.pivot(index="indicator", columns="month_start", values="status").rename(
            columns=lambda d: f"{d:%Y-%m}"
        ),
        width="stretch",
    )
