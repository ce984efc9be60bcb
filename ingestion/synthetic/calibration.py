"""The synthetic organisation's ordinary behaviour, each figure beside the DOMAIN §5 one it serves.

`xmo generate --report` (ingestion.synthetic.realism) measures the generated files against those
figures; tests/unit/ingestion/test_realism.py keeps every one of them inside its range. The story
lines (storm, watermelon, scope cohorts, chat, poor devices) live in `organisation`; the shares of
priorities and channels there too, beside the values they name.
"""

from __future__ import annotations

# --- Tickets ---------------------------------------------------------------------------------
# Incidents 0.3-0.8 and requests 0.3-0.7 per employee per month: one ticket per employee per
# working day every 30 days, 45 % of them requests (the services' request shares), gives about
# 0.5 incidents and 0.4 requests a month.
TICKETS_PER_EMPLOYEE_PER_DAY = 1.0 / 30.0
# "~30 % less at weekends".
WEEKEND_FACTOR = 0.7
# "Weekday business-hour peaks": arrival hour (UTC) ~ normal(mean, sd), clipped to the day.
ARRIVAL_HOUR_MEAN = 11.0
ARRIVAL_HOUR_SD = 2.8
# Resolution in business hours (business_hours: Mon-Fri 08-17 UTC) is log-normal around the
# priority's median (organisation.PRIORITIES) with this sigma: "log-normal" MTTR.
RESOLUTION_SIGMA = 0.85
# "2-5 % canceled": incidents Canceled (state 8); requests Closed Incomplete or Closed Skipped
# (4 or 7, half each), which the marts count as canceled, never as resolved.
CANCELED_INCIDENT_SHARE = 0.03
UNRESOLVED_REQUEST_SHARE = 0.03
# "Auto-close 3-7 days after resolution": a whole number of days, uniform in this range.
AUTO_CLOSE_DAYS = (3, 7)
# DOMAIN §4: reassignment_count mean ~1.1 with about half never reassigned, a long tail:
# geometric, P(0) = 0.48, mean 1.08.
REASSIGNMENT_GEOMETRIC_P = 0.48
# DOMAIN §4: reopen_count > 0 for 1-3 %.
REOPEN_SHARE = 0.02

# --- Surveys ---------------------------------------------------------------------------------
# "Response rate 10-25 % (parameter)": the default mean (GeneratorConfig.response_rate); each
# service's rate is the mean times a uniform draw from the spread, so an organisation's rate
# varies by about 2 points from seed to seed and stays inside the range.
RESPONSE_RATE = 0.20
RESPONSE_RATE_SPREAD = (0.75, 1.3)
# Happiness (score = % of 9-10 answers - % of 0-6 answers). A response is 0-6 with a
# probability built from the ticket (generator._unhappy_probability); the rest are 9-10 with
# PROMOTER_SHARE, else 7-8. Score = 100 * (PROMOTER_SHARE * (1 - p) - p): an ordinary incident's
# p of about 0.10 gives +73 ("incident happiness around +65...+80"; vendor +67), a request's
# about 0.05 gives +80 ("requests +75...+85"; vendor +76).
PROMOTER_SHARE = 0.92
UNHAPPY_BASE = 0.035
UNHAPPY_REQUEST_BONUS = 0.05  # taken off a request's probability
# "-7 points per reassignment": 100 * (1 + PROMOTER_SHARE) * 0.037 = 7.1 points.
UNHAPPY_PER_REASSIGNMENT = 0.037
UNHAPPY_MISSED_SLA = 0.10
UNHAPPY_REOPENED = 0.25
UNHAPPY_PHONE = 0.02
# "Lost time answered by ~80 % of respondents".
LOST_TIME_ANSWER_SHARE = 0.8
# Lost time is a mixture of two log-normals: most tickets cost a little ("light"), a few stop
# the respondent's work ("heavy"). "~13 % of tickets carry ~80 % of it": heavy answers are about
# one in seven and average ~16 h against ~40 min. A heavy answer comes only with reassignments
# or an unhappy answer: each reassignment adds HEAVY_PER_REASSIGNMENT to its chance ("+106 min
# lost per reassignment": 0.105 * (955 - 41) = 96 min, and ~9 min more through the unhappy
# answers a reassignment brings), a 0-6 answer HEAVY_IF_UNHAPPY, so a 0-6 answer is heavy about
# four times as often as a 9-10 one and the time lost sits where the negative factors are, as
# the hotspots show it. Means "~3 h incidents, 2.5 h requests" (request medians scaled by
# LOST_TIME_REQUEST_FACTOR: requests are answered unhappily less often).
LOST_TIME_LIGHT_MEDIAN = 25.0  # minutes; sigma 1.0 -> mean 41 min
LOST_TIME_LIGHT_SIGMA = 1.0
LOST_TIME_HEAVY_MEDIAN = 750.0  # minutes; sigma 0.7 -> mean 955 min
LOST_TIME_HEAVY_SIGMA = 0.7
HEAVY_BASE = 0.0
HEAVY_PER_REASSIGNMENT = 0.105
HEAVY_IF_UNHAPPY = 0.25
LOST_TIME_REQUEST_FACTOR = 0.95

# --- Devices ---------------------------------------------------------------------------------
# "~30 % of sign-ins over 40 s": median 28 s, sigma 0.55 puts 26 % of ordinary sign-ins over 40 s
# and the slow-disk model (organisation.SLOW_DISK_LOGON_FACTOR) lifts the whole to about 31 %.
LOGON_MEDIAN_S = 28.0
LOGON_SIGMA = 0.55
# "< 2 blue screens per device-year": 1.2 a year, and the bad client's six weeks at one site
# (crashes x6 there) add 0.2-0.5 on a timeline of three to six months.
SYSTEM_CRASHES_PER_DEVICE_YEAR = 1.2
# "Battery capacity spread with 60/80 % cut-offs": each laptop starts uniform in this range and
# loses BATTERY_WEAR_PER_YEAR points a year, so ~10-15 % are below 60 % and ~45 % at 60-80 %.
BATTERY_START_RANGE = (55.0, 100.0)
BATTERY_WEAR_PER_YEAR = 8.0
