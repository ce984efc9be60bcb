"""The quality gates of DESIGN §5: GX suites for every raw source and published mart.

Each gate is one kind of check on one table and returns a GateOutcome: the GX validations it
ran (each with its Data Docs page), or why it had nothing to judge. Marts are validated whole;
raw tables a chunk of whole partitions at a time, so memory stays bounded at any scale.
Orchestration turns each gate into a Dagster asset check.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from ingestion.contracts import Contract
from ingestion.sources import SOURCES
from quality.config import GateConfig
from quality.history import read_history, record
from quality.validation import (
    SAMPLE_SIZE,
    FailedExpectation,
    ValidationOutcome,
    plain_value,
    validate_dataframe,
)

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

# What a journey cell of fewer than 5 employees must not show (issue 19's privacy rule).
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
    "ticket_responses": (
        "SELECT count(*) FROM staging.stg_survey__responses WHERE survey_type = 'ticket'"
    ),
    "proactive_responses": (
        "SELECT count(*) FROM staging.stg_survey__responses WHERE survey_type = 'proactive'"
    ),
    "device_days": "SELECT count(*) FROM intermediate.int_device_days_scored",
}
ROWS = "__rows__"


@dataclass(frozen=True)
class MartSpec:
    table: str
    key: tuple[str, ...]
    not_null: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    accepted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    freshness_column: str | None = None
    reconcile: Mapping[str, str] = field(default_factory=dict)  # column (or ROWS) -> total
    low_sample_nulls: tuple[str, ...] = ()


def _experience(table: str, key: tuple[str, ...], period: str, **extra: object) -> MartSpec:
    return MartSpec(
        table=table,
        key=key,
        not_null=(*key, "responses", "tickets_resolved", "low_sample"),
        ranges=EXPERIENCE_RANGES,
        freshness_column=period,
        reconcile={"tickets_resolved": "resolved_tickets", "responses": "ticket_responses"},
        low_sample_nulls=LOW_SAMPLE_NULLS,
        **extra,  # type: ignore[arg-type]
    )


MARTS: dict[str, MartSpec] = {
    spec.table: spec
    for spec in (
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
            freshness_column="resolved_at",
            reconcile={ROWS: "resolved_tickets"},
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
            freshness_column="month_start",
            reconcile={"responses": "proactive_responses"},
            low_sample_nulls=LOW_SAMPLE_NULLS,
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
                freshness_column="month_start",
                # Privacy: no ticket, answer or DEX figure of a hidden cell (issue 19).
                low_sample_nulls=JOURNEY_FIGURES,
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
        ),
        MartSpec(
            "xla_scorecard",
            ("service_id", "month_start", "indicator"),
            ("service_id", "month_start", "indicator", "status", "target"),
            accepted={"status": ("green", "amber", "red", "insufficient_data")},
            freshness_column="month_start",
        ),
        MartSpec(
            "watermelon_services",
            ("service_id", "month_start"),
            ("service_id", "month_start", "is_watermelon"),
            ranges={"sla_attainment": RATE, "happiness_score": SCORE},
            freshness_column="month_start",
        ),
        MartSpec(
            "experience_hotspots",
            ("month_start", "service_id", "factor"),
            ("month_start", "service_id", "factor", "rank"),
            ranges={"share_of_negative": RATE, "lost_hours": NON_NEGATIVE, "rank": (1, None)},
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
            freshness_column="week_start",
            reconcile={"device_days": "device_days"},
            low_sample_nulls=("dex_score",),
        ),
    )
}

# The column whose newest value says how fresh a raw extract is (directory snapshots have none).
RAW_EVENT_COLUMNS = {
    "survey": "responded_at",
    "itsm": "sys_updated_on",
    "device": "snapshot_date",
}


@dataclass
class GateOutcome:
    """What one gate found; `skipped` says why there was nothing to judge."""

    gate: str
    validations: list[ValidationOutcome] = field(default_factory=list)
    skipped: str | None = None
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def failures(self) -> list[FailedExpectation]:
        return [f for v in self.validations for f in v.failures]

    @property
    def evaluated(self) -> int:
        return sum(v.evaluated for v in self.validations)

    @property
    def passed(self) -> bool:
        if self.skipped is not None:
            return True
        return bool(self.validations) and all(v.success for v in self.validations)

    @property
    def docs_pages(self) -> list[Path]:
        return [v.docs_page for v in self.validations if v.docs_page is not None]


@dataclass(frozen=True)
class GateContext:
    # The database the gates read: the DuckDB warehouse, or on Spark its catalog of views.
    database_path: Path
    quality_dir: Path
    run_date: date  # the run's last partition: freshness is judged against it
    partitions: tuple[date, ...]  # the run's partitions (raw gates)
    config: GateConfig

    @property
    def history_dir(self) -> Path:
        return self.quality_dir / "history"


def _query(ctx: GateContext, sql: str, params: list | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(ctx.database_path), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def _scalar(ctx: GateContext, sql: str) -> int:
    con = duckdb.connect(str(ctx.database_path), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def _suite(name: str, expectations: list[gxe.Expectation]) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name=name, expectations=expectations)


def _validate(
    ctx: GateContext, frame: pd.DataFrame, name: str, expectations: list
) -> ValidationOutcome:
    return validate_dataframe(frame, _suite(name, expectations), ctx.quality_dir)


def _range_expectations(ranges: Mapping[str, tuple[float | None, float | None]]) -> list:
    return [
        gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
        for column, (low, high) in ranges.items()
    ]


# ---- marts -------------------------------------------------------------------------------


def mart_schema(ctx: GateContext, spec: MartSpec, frame: pd.DataFrame) -> GateOutcome:
    columns = {*spec.key, *spec.not_null, *spec.ranges, *spec.accepted, *spec.low_sample_nulls}
    expectations: list = [gxe.ExpectColumnToExist(column=c) for c in sorted(columns)]
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in spec.not_null]
    if len(spec.key) == 1:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=spec.key[0]))
    else:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.key)))
    expectations += _range_expectations(spec.ranges)
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=list(values))
        for c, values in spec.accepted.items()
    ]
    # Low-sample groups publish no score: too few answers are noisy and identifying.
    expectations += [
        gxe.ExpectColumnValuesToBeNull(
            column=c, row_condition="low_sample == True", condition_parser="pandas"
        )
        for c in spec.low_sample_nulls
    ]
    gate = f"{spec.table}_has_valid_schema_keys_and_ranges"
    return GateOutcome(gate, [_validate(ctx, frame, gate, expectations)])


def mart_reconciliation(ctx: GateContext, spec: MartSpec, frame: pd.DataFrame) -> GateOutcome:
    """The mart's totals (one row of them; GX judges each against its staging total)."""
    gate = f"{spec.table}_reconciles_with_staging"
    totals = {name: _scalar(ctx, STAGING_TOTALS[name]) for name in set(spec.reconcile.values())}
    mart_totals = {
        column: len(frame) if column == ROWS else _number(frame[column].sum())
        for column in spec.reconcile
    }
    summary = pd.DataFrame({_total_column(c): [total] for c, total in mart_totals.items()})
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(
            column=_total_column(column), min_value=totals[total], max_value=totals[total]
        )
        for column, total in spec.reconcile.items()
    ]
    outcome = GateOutcome(gate, [_validate(ctx, summary, gate, expectations)])
    outcome.notes["staging_totals"] = totals
    outcome.notes["mart_totals"] = {_total_column(c): v for c, v in mart_totals.items()}
    return outcome


def _number(value: object) -> object:
    """A numpy scalar as the Python number GX compares with the staging total."""
    return value.item() if hasattr(value, "item") else value


def _total_column(column: str) -> str:
    return "rows" if column == ROWS else column


def _freshness_frame(latest: object, run_date: date) -> pd.DataFrame:
    latest_date = None if latest is None or pd.isna(latest) else pd.Timestamp(latest).date()
    lag = None if latest_date is None else (run_date - latest_date).days
    return pd.DataFrame({"latest": [str(latest_date)], "lag_days": [lag]})


def mart_freshness(ctx: GateContext, spec: MartSpec, frame: pd.DataFrame) -> GateOutcome:
    gate = f"{spec.table}_is_fresh"
    days = ctx.config.freshness_days[spec.table]
    latest = frame[spec.freshness_column].max() if len(frame) else None
    summary = _freshness_frame(latest, ctx.run_date)
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="lag_days"),
        gxe.ExpectColumnValuesToBeBetween(column="lag_days", max_value=days),
    ]
    outcome = GateOutcome(gate, [_validate(ctx, summary, gate, expectations)])
    outcome.notes.update(latest=summary["latest"][0], run_date=str(ctx.run_date), max_lag_days=days)
    return outcome


def mart_volume(ctx: GateContext, spec: MartSpec, frame: pd.DataFrame) -> GateOutcome:
    gate = f"{spec.table}_volume_holds_against_previous_run"
    history = read_history(ctx.history_dir, spec.table)
    rows = len(frame)
    if not history:
        record(ctx.history_dir, spec.table, {ctx.run_date.isoformat(): rows})
        return GateOutcome(gate, skipped="first validated run: nothing to compare with yet")
    previous_key = max(history)
    floor = math.ceil(ctx.config.volume_min_ratio["marts"] * history[previous_key])
    # GX judges the row count, not the mart: re-reading a million rows to count them cost seconds.
    expectations = [gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=floor)]
    outcome = GateOutcome(
        gate, [_validate(ctx, pd.DataFrame({"rows": [rows]}), gate, expectations)]
    )
    outcome.notes.update(rows=rows, previous_rows=history[previous_key], min_rows=floor)
    if outcome.passed:
        record(ctx.history_dir, spec.table, {ctx.run_date.isoformat(): rows})
    return outcome


def weekly_happiness_distribution(ctx: GateContext, frame: pd.DataFrame) -> GateOutcome:
    """The latest complete week's mean happiness lies within the spread of the weeks before."""
    gate = "service_experience_weekly_happiness_within_recent_history"
    config = ctx.config
    weekly = (
        frame.dropna(subset=["happiness_score"])
        .assign(week_start=lambda f: pd.to_datetime(f["week_start"]).dt.date)
        .groupby("week_start")["happiness_score"]
        .mean()
        .sort_index()
    )
    complete = weekly[[w + timedelta(days=6) <= ctx.run_date for w in weekly.index]]
    if len(complete) < config.distribution_min_weeks + 1:
        return GateOutcome(
            gate,
            skipped=f"{len(complete)} complete weeks; need "
            f"{config.distribution_min_weeks + 1} to judge",
        )
    latest_week, latest = complete.index[-1], float(complete.iloc[-1])
    history = [float(v) for v in complete.iloc[-13:-1]]
    mean = statistics.fmean(history)
    spread = max(statistics.pstdev(history), config.distribution_min_sd)
    low, high = (
        mean - config.distribution_sigmas * spread,
        mean + config.distribution_sigmas * spread,
    )
    summary = pd.DataFrame({"week_start": [str(latest_week)], "mean_happiness": [latest]})
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(column="mean_happiness", min_value=low, max_value=high)
    ]
    outcome = GateOutcome(gate, [_validate(ctx, summary, gate, expectations)])
    outcome.notes.update(
        week=str(latest_week),
        mean_happiness=round(latest, 2),
        bounds=[round(low, 2), round(high, 2)],
        history_weeks=len(history),
    )
    return outcome


# The distribution guard reads these besides what a mart's spec names.
DISTRIBUTION_COLUMNS = ("week_start", "happiness_score")


def gated_columns(spec: MartSpec) -> list[str]:
    """Every column a gate of `spec` reads: the rest of a mart stays in the database."""
    columns = [*spec.key, *spec.not_null, *spec.ranges, *spec.accepted, *spec.low_sample_nulls]
    if spec.low_sample_nulls:
        columns.append("low_sample")
    if spec.freshness_column:
        columns.append(spec.freshness_column)
    columns += [c for c in spec.reconcile if c != ROWS]
    if spec.table == "service_experience_weekly":
        columns += DISTRIBUTION_COLUMNS
    return list(dict.fromkeys(columns))


def read_mart(ctx: GateContext, table: str) -> pd.DataFrame:
    """The mart's gated columns that exist (a missing one fails the schema gate's expectation
    that it exists); reading all 19 columns of a million tickets cost a second more."""
    spec = MARTS.get(table)
    if spec is None:
        return _query(ctx, f"SELECT * FROM marts.{table}")
    present = set(_query(ctx, f"SELECT * FROM marts.{table} LIMIT 0").columns)
    columns = [c for c in gated_columns(spec) if c in present]
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return _query(ctx, f"SELECT {quoted or 'NULL AS no_gated_column'} FROM marts.{table}")


# ---- raw ---------------------------------------------------------------------------------


def _partition_counts(ctx: GateContext, contract: Contract) -> dict[date, int]:
    counts = _query(
        ctx,
        f"SELECT _extract_date, count(*) AS n FROM raw.{contract.table} "
        "WHERE _extract_date BETWEEN ? AND ? GROUP BY 1",
        [min(ctx.partitions), max(ctx.partitions)],
    )
    found = {
        pd.Timestamp(d).date(): int(n)
        for d, n in zip(counts["_extract_date"], counts["n"], strict=True)
    }
    return {d: found.get(d, 0) for d in ctx.partitions}


@dataclass(frozen=True)
class _ContractRule:
    """One contract rule as a per-extract count of the rows that break it."""

    label: str  # the profile column GX judges
    field: str
    expectation: str
    violation_sql: str


def _contract_rules(contract: Contract) -> list[_ContractRule]:
    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    rules = [
        _ContractRule(f"{c}__missing", c, "not null", f"{quoted(c)} IS NULL")
        for c in contract.required_columns
    ]
    for f in contract.fields:
        column = quoted(f.name)
        if f.min_value is not None or f.max_value is not None:
            bounds = [
                *([f"{column} < {f.min_value}"] if f.min_value is not None else []),
                *([f"{column} > {f.max_value}"] if f.max_value is not None else []),
            ]
            low = "" if f.min_value is None else f"{f.min_value:g}"
            high = "" if f.max_value is None else f"{f.max_value:g}"
            rules.append(
                _ContractRule(
                    f"{f.name}__out_of_range",
                    f.name,
                    f"between {low} and {high}",
                    " OR ".join(bounds),
                )
            )
        if f.allowed is not None:
            # The contract compares case-insensitively; raw keeps the value as sent.
            values = ", ".join("'" + v.replace("'", "''") + "'" for v in f.allowed)
            rules.append(
                _ContractRule(
                    f"{f.name}__not_allowed",
                    f.name,
                    f"in {sorted(f.allowed)}",
                    f"{column} IS NOT NULL AND lower({column}) NOT IN ({values})",
                )
            )
    return rules


def raw_schema(ctx: GateContext, source: str) -> GateOutcome:
    """The run's raw extracts against their source contract, judged in the database.

    DuckDB counts, per extract, the rows that break each rule (missing required values, values
    out of range or not allowed, duplicate keys); GX judges those counts (all must be 0) and the
    table's columns. Reading every raw row into pandas instead took minutes for a year of device
    snapshots. A broken rule's evidence is its row count and a sample of the offending values.
    """
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_has_valid_schema_keys_and_ranges"
    outcome = GateOutcome(gate)
    table = f"raw.{contract.table}"
    rules = _contract_rules(contract)
    keys = ", ".join(contract.unique_key)
    counts = ",\n".join(f'count(*) FILTER (WHERE {r.violation_sql}) AS "{r.label}"' for r in rules)
    window = [min(ctx.partitions), max(ctx.partitions)]
    profile = _query(
        ctx,
        f"SELECT _extract_date, count(*) AS rows_loaded, {counts},\n"
        f"count(*) - count(DISTINCT ({keys})) AS duplicate_keys\n"
        f"FROM {table} WHERE _extract_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 1",
        window,
    )
    outcome.notes["partitions"] = len(ctx.partitions)
    if profile.empty:
        outcome.skipped = "no rows in the run's partitions"
        return outcome
    columns = _query(ctx, f"SELECT * FROM {table} LIMIT 0")
    outcome.validations.append(
        _validate(
            ctx, columns, gate, [gxe.ExpectColumnToExist(column=c) for c in contract.field_names()]
        )
    )
    checked = _validate(
        ctx,
        profile,
        gate,
        [
            gxe.ExpectColumnValuesToBeBetween(column=label, min_value=0, max_value=0)
            for label in [*(r.label for r in rules), "duplicate_keys"]
        ],
    )
    by_label = {r.label: r for r in rules}
    evidence = []
    for failure in checked.failures:
        rule = by_label.get(failure.column or "")
        if failure.error or (rule is None and failure.column != "duplicate_keys"):
            evidence.append(failure)
            continue
        broken = int(profile[failure.column].sum())
        if rule is None:
            evidence.append(FailedExpectation(f"unique ({keys}) per extract", keys, broken, []))
            continue
        sample = _query(
            ctx,
            f'SELECT DISTINCT "{rule.field}" AS v FROM {table} '
            f"WHERE _extract_date BETWEEN ? AND ? AND ({rule.violation_sql}) LIMIT {SAMPLE_SIZE}",
            window,
        )["v"].tolist()
        evidence.append(
            FailedExpectation(
                rule.expectation, rule.field, broken, [plain_value(v) for v in sample]
            )
        )
    outcome.validations.append(replace(checked, failures=evidence))
    return outcome


def raw_freshness(ctx: GateContext, source: str) -> GateOutcome:
    """Each extract's newest event is at most freshness_days['raw'] older than the extract."""
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_is_fresh"
    column = RAW_EVENT_COLUMNS[source]
    latest = _query(
        ctx,
        f"SELECT _extract_date, max({column}) AS latest FROM raw.{contract.table} "
        "WHERE _extract_date BETWEEN ? AND ? GROUP BY 1",
        [min(ctx.partitions), max(ctx.partitions)],
    )
    by_day = {
        pd.Timestamp(d).date(): v
        for d, v in zip(latest["_extract_date"], latest["latest"], strict=True)
    }
    summary = pd.DataFrame(
        {
            "extract_date": [str(d) for d in ctx.partitions if d in by_day],
            "lag_days": [
                (d - pd.Timestamp(by_day[d]).date()).days for d in ctx.partitions if d in by_day
            ],
        }
    )
    if summary.empty:
        return GateOutcome(gate, skipped="no rows in the run's partitions")
    days = ctx.config.freshness_days["raw"]
    expectations = [gxe.ExpectColumnValuesToBeBetween(column="lag_days", max_value=days)]
    outcome = GateOutcome(gate, [_validate(ctx, summary, gate, expectations)])
    outcome.notes["max_lag_days"] = days
    return outcome


def raw_volume(ctx: GateContext, source: str) -> GateOutcome:
    """Each extract holds at least volume_min_ratio['raw'] x the median of the previous 28."""
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_volume_holds_against_previous_runs"
    history = {
        date.fromisoformat(k): v for k, v in read_history(ctx.history_dir, contract.table).items()
    }
    counts = _partition_counts(ctx, contract)
    ratio = ctx.config.volume_min_ratio["raw"]
    rows, too_small = [], []
    known = dict(history)
    for day in sorted(counts):
        previous = [known[d] for d in sorted(known) if d < day][-28:]
        if len(previous) >= 7:
            reference = statistics.median(previous)
            if reference >= ctx.config.volume_min_reference_rows:
                rows.append((str(day), counts[day], math.ceil(ratio * reference)))
            else:
                too_small.append(str(day))
        known[day] = counts[day]
    if not rows:
        record(ctx.history_dir, contract.table, {d.isoformat(): n for d, n in counts.items()})
        reason = (
            f"reference volume under {ctx.config.volume_min_reference_rows} rows"
            if too_small
            else "fewer than 7 earlier extracts: nothing to compare with yet"
        )
        return GateOutcome(gate, skipped=reason, notes={"not_judged": too_small})
    summary = pd.DataFrame(rows, columns=["extract_date", "rows", "min_rows"])
    summary["shortfall"] = summary["min_rows"] - summary["rows"]
    # GX compares a column with constants, so the per-extract floor is checked as a shortfall.
    expectations = [gxe.ExpectColumnValuesToBeBetween(column="shortfall", max_value=0)]
    outcome = GateOutcome(gate, [_validate(ctx, summary, gate, expectations)])
    if outcome.passed:
        record(ctx.history_dir, contract.table, {d.isoformat(): n for d, n in counts.items()})
    outcome.notes.update(extracts=len(counts), min_ratio=ratio, not_judged=too_small)
    return outcome
