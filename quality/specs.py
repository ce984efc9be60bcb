"""What each table must satisfy: the published marts' specs and the raw sources' event columns.

Specs only: how a gate judges a table against its spec is in quality/gates/ (raw, marts,
history). The raw tables' rules come from their source contracts (ingestion/contracts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SCORE = (-100.0, 100.0)
RATE = (0.0, 1.0)
NON_NEGATIVE = (0.0, None)
DEX = (0.0, 100.0)
CHANNELS = ("portal", "phone", "email", "chat", "walk_in", "other")
EXPERIENCE_RANGES = {
    "happiness_score": SCORE,
    "response_rate": RATE,
    "sla_attainment": RATE,
    "reopen_rate": RATE,
    "mttr_hours": NON_NEGATIVE,
    "avg_lost_time_minutes": NON_NEGATIVE,
    "total_lost_hours": NON_NEGATIVE,
    "responses": NON_NEGATIVE,
    "tickets_resolved": NON_NEGATIVE,
    "tickets_canceled": NON_NEGATIVE,
    "happiness_ci_low": SCORE,
    "happiness_ci_high": SCORE,
    "lost_time_ci_low": NON_NEGATIVE,
    "lost_time_ci_high": NON_NEGATIVE,
}
LOW_SAMPLE_NULLS = (
    "happiness_score",
    "avg_lost_time_minutes",
    "total_lost_hours",
    "happiness_ci_low",
    "happiness_ci_high",
    "lost_time_ci_low",
    "lost_time_ci_high",
)

# What a journey cell of fewer than 5 employees must not show (the journey privacy rule).
JOURNEY_FIGURES = (
    "dex_score",
    "tickets_opened",
    "tickets_per_100_employees",
    "hardware_tickets",
    "responses",
    "happiness_score",
    "avg_lost_time_minutes",
    "total_lost_hours",
    "lost_hours_per_100_employees",
)

# Totals in the warehouse that published marts must add up to (reconciliation gates).
STAGING_TOTALS = {
    "resolved_tickets": (
        "SELECT count(*) FROM intermediate.int_tickets_mapped_to_services "
        "WHERE resolved_at IS NOT NULL"
    ),
    "canceled_tickets": (
        "SELECT count(*) FROM intermediate.int_tickets_mapped_to_services WHERE is_canceled"
    ),
    "ticket_responses": (
        "SELECT count(*) FROM staging.stg_survey__responses WHERE survey_type = 'ticket'"
    ),
    "proactive_responses": (
        "SELECT count(*) FROM staging.stg_survey__responses WHERE survey_type = 'proactive'"
    ),
    "device_days": "SELECT count(*) FROM intermediate.int_device_days_scored",
}
ROWS = "__rows__"

# The newest week of resolved tickets, and a week's resolved tickets and how many of them no
# mapping rule gives a service (the parameter, twice: the week's Monday).
NEWEST_RESOLVED_WEEK_SQL = (
    "SELECT CAST(date_trunc('week', max(resolved_at)) AS DATE) FROM marts.fct_ticket_experience"
)
UNMAPPED_IN_WEEK_SQL = (
    "SELECT count(*), count(*) FILTER (WHERE service_id = 'unmapped') "
    "FROM marts.fct_ticket_experience "
    "WHERE resolved_at >= CAST(? AS DATE) AND resolved_at < CAST(? AS DATE) + INTERVAL 7 DAY"
)

# The sources marts are built from (MartSpec.needs / uses).
TICKETS = frozenset({"itsm"})
SURVEYS = frozenset({"survey"})
DEVICES = frozenset({"device"})
DIRECTORY = frozenset({"directory"})


@dataclass(frozen=True)
class MartSpec:
    """What one published mart must satisfy; each field is one kind of rule."""

    table: str
    key: tuple[str, ...]  # unique per row
    not_null: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    accepted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    period_column: str | None = None  # the week or month (or day) a row describes
    reconcile: Mapping[str, str] = field(default_factory=dict)  # column (or ROWS) -> total
    # NULL wherever low_sample is true: too few answers are noisy and identifying.
    low_sample_nulls: tuple[str, ...] = ()
    # The landing sources it is built from (docs/sources.md, "What each mart needs"): without a
    # source it `needs` the mart is empty; without one it `uses`, some of its figures are. A
    # source in neither never changes it. A mart is as fresh as the extracts of these sources.
    needs: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()

    @property
    def sources(self) -> frozenset[str]:
        """Every source the mart is built from."""
        return self.needs | self.uses

    def columns(self) -> list[str]:
        """Every column a rule of the spec names, each once."""
        columns = [*self.key, *self.not_null, *self.ranges, *self.accepted, *self.low_sample_nulls]
        if self.low_sample_nulls:
            columns.append("low_sample")
        if self.period_column:
            columns.append(self.period_column)
        columns += [c for c in self.reconcile if c != ROWS]
        return list(dict.fromkeys(columns))


def _experience(table: str, key: tuple[str, ...], period: str, **extra: object) -> MartSpec:
    return MartSpec(
        table=table,
        key=key,
        not_null=(*key, "responses", "tickets_resolved", "tickets_canceled", "low_sample"),
        ranges=EXPERIENCE_RANGES,
        period_column=period,
        reconcile={
            "tickets_resolved": "resolved_tickets",
            "tickets_canceled": "canceled_tickets",
            "responses": "ticket_responses",
        },
        low_sample_nulls=LOW_SAMPLE_NULLS,
        # Rows are tickets' and answers' periods; the answers' figures need the surveys.
        needs=TICKETS,
        uses=SURVEYS,
        **extra,  # type: ignore[arg-type]
    )


MARTS: dict[str, MartSpec] = {
    spec.table: spec
    for spec in (
        # The service catalog (reference data) alone.
        MartSpec("dim_service", ("service_id",), ("service_id", "service_name", "in_scope")),
        MartSpec(
            "fct_ticket_experience",
            ("ticket_number",),
            ("service_id", "channel", "resolved_at", "ticket_type"),
            ranges={
                "happiness": (0, 10),
                "resolution_hours": NON_NEGATIVE,
                "lost_time_minutes": NON_NEGATIVE,
                "reassignment_count": NON_NEGATIVE,
            },
            accepted={"channel": CHANNELS, "ticket_type": ("incident", "request")},
            period_column="resolved_at",
            reconcile={ROWS: "resolved_tickets"},
            # The requester's answer on each ticket needs the surveys.
            needs=TICKETS,
            uses=SURVEYS,
        ),
        _experience("service_experience_weekly", ("service_id", "week_start"), "week_start"),
        _experience("service_experience_monthly", ("service_id", "month_start"), "month_start"),
        _experience(
            "channel_experience_monthly",
            ("channel", "ticket_type", "month_start"),
            "month_start",
            accepted={"channel": CHANNELS, "ticket_type": ("incident", "request", "unknown")},
        ),
        MartSpec(
            "proactive_experience_monthly",
            ("topic", "month_start"),
            ("topic", "month_start", "responses", "low_sample"),
            ranges={
                "happiness_score": SCORE,
                "avg_lost_time_minutes": NON_NEGATIVE,
                "total_lost_hours": NON_NEGATIVE,
                "happiness_ci_low": SCORE,
                "happiness_ci_high": SCORE,
                "lost_time_ci_low": NON_NEGATIVE,
                "lost_time_ci_high": NON_NEGATIVE,
            },
            period_column="month_start",
            reconcile={"responses": "proactive_responses"},
            low_sample_nulls=LOW_SAMPLE_NULLS,
            needs=SURVEYS,
        ),
        MartSpec(
            "experience_changes",
            ("service_id", "week_start", "indicator", "reference_kind"),
            ("value", "reference_value", "delta", "minimum_detectable_change", "is_significant"),
            ranges={
                "n": NON_NEGATIVE,
                "reference_n": NON_NEGATIVE,
                "p_value": RATE,
                "q_value": RATE,
                "minimum_detectable_change": NON_NEGATIVE,
            },
            accepted={
                "indicator": ("happiness_score", "avg_lost_time_minutes"),
                "reference_kind": ("previous_4_weeks", "baseline"),
                "direction": ("better", "worse"),
            },
            period_column="week_start",
            # Tests of the answers of each service's weeks.
            needs=TICKETS | SURVEYS,
        ),
        *(
            MartSpec(
                table,
                key,
                ("department", "month_start", "employees", "low_sample"),
                ranges={
                    "employees": NON_NEGATIVE,
                    "dex_score": DEX,
                    "tickets_opened": NON_NEGATIVE,
                    "tickets_per_100_employees": NON_NEGATIVE,
                    "hardware_tickets": NON_NEGATIVE,
                    "responses": NON_NEGATIVE,
                    "happiness_score": SCORE,
                    "avg_lost_time_minutes": NON_NEGATIVE,
                    "total_lost_hours": NON_NEGATIVE,
                    "lost_hours_per_100_employees": NON_NEGATIVE,
                },
                accepted=accepted,
                period_column="month_start",
                # Privacy: no ticket, answer or DEX figure of a hidden cell.
                low_sample_nulls=JOURNEY_FIGURES,
                # Employee months on their primary device; what they did, and their department.
                needs=DEVICES,
                uses=TICKETS | SURVEYS | DIRECTORY,
            )
            for table, key, accepted in (
                ("device_ticket_experience_monthly", ("department", "model", "month_start"), {}),
                (
                    "dex_band_experience_monthly",
                    ("dex_band", "department", "month_start"),
                    {"dex_band": ("poor", "fair", "good")},
                ),
            )
        ),
        MartSpec(
            "xla_baseline",
            ("service_id", "indicator"),
            ("service_id", "indicator", "n"),
            ranges={"n": NON_NEGATIVE},
            # Ticket indicators, answer indicators and the devices' DEX.
            needs=TICKETS,
            uses=SURVEYS | DEVICES,
        ),
        MartSpec(
            "xla_scorecard",
            ("service_id", "month_start", "indicator"),
            # No target: a target relative to a baseline the service does not have yet
            # (insufficient_data) has none.
            ("service_id", "month_start", "indicator", "status"),
            accepted={"status": ("green", "amber", "red", "insufficient_data")},
            period_column="month_start",
            needs=TICKETS,
            uses=SURVEYS | DEVICES,
        ),
        MartSpec(
            "watermelon_services",
            ("service_id", "month_start"),
            ("service_id", "month_start", "is_watermelon"),
            ranges={"sla_attainment": RATE, "happiness_score": SCORE},
            period_column="month_start",
            # SLA from the tickets; without answers no service is a watermelon.
            needs=TICKETS,
            uses=SURVEYS,
        ),
        MartSpec(
            "experience_hotspots",
            ("month_start", "service_id", "factor"),
            ("month_start", "service_id", "factor", "rank"),
            ranges={"share_of_negative": RATE, "lost_hours": NON_NEGATIVE, "rank": (1, None)},
            period_column="month_start",
            # Negative factors of answers, by their tickets' services.
            needs=TICKETS | SURVEYS,
        ),
        MartSpec(
            "device_experience_weekly",
            ("department", "model", "week_start"),
            ("department", "model", "week_start", "devices", "low_sample"),
            ranges={
                "devices": NON_NEGATIVE,
                "dex_score": DEX,
                "boot_score": DEX,
                "logon_score": DEX,
                "app_stability_score": DEX,
                "cpu_score": DEX,
                "battery_score": DEX,
            },
            period_column="week_start",
            reconcile={"device_days": "device_days"},
            low_sample_nulls=("dex_score",),
            # Departments come from the directory ('unknown' without it).
            needs=DEVICES,
            uses=DIRECTORY,
        ),
    )
}

# The column whose newest value says how fresh a raw extract's records are (directory snapshots
# have none: only their arrival is judged).
RAW_EVENT_COLUMNS = {
    "survey": "responded_at",
    "itsm": "sys_updated_on",
    "device": "snapshot_date",
}
