"""Gates on the raw tables: a run's extracts against their source contract, and whether a
source's extracts arrive and hold recent records.

Raw tables are judged a run's partitions at a time (`_extract_date` in the run's window), so a
daily run judges one extract and a backfill its range, never all history. A source the
organisation does not declare is not judged: its gates say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ingestion.sources import SOURCES
from ingestion.warehouse import EXTRACT_LOADS
from quality.gates.common import (
    GateContext,
    GateOutcome,
    count_violations,
    judge_violations,
    missing_columns,
    not_configured,
    sample_sql,
    validate,
)
from quality.rules import UniqueKey, contract_rules
from quality.specs import RAW_EVENT_COLUMNS
from quality.validation import expect_between, expect_not_null

IN_WINDOW = "_extract_date BETWEEN ? AND ?"


def raw_schema(ctx: GateContext, source: str) -> GateOutcome:
    """The run's raw extracts against their source contract, judged in the database.

    DuckDB counts, per extract, the rows that break each rule (missing required values, values
    out of range or not allowed, duplicate keys) and whether each contract column exists; GX
    judges those counts (all must be 0). A broken rule's evidence is its row count and a sample
    of the offending values.
    """
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_has_valid_schema_keys_and_ranges"
    if source not in ctx.sources:
        return not_configured(gate, [source], "its raw table stays empty")
    table = f"raw.{contract.table}"
    outcome = GateOutcome(gate, notes={"partitions": len(ctx.partitions)})
    present = list(ctx.db.columns(table))
    checks = [rule for rule in contract_rules(contract) if rule.column in present]
    # Where rows sharing the key are versions (an event log's updates within one minute), the
    # loader keeps them all and quarantines only an identical copy: the gate does the same.
    key = contract.field_names() if contract.key_shared_by_versions else contract.unique_key
    if set(key) <= set(present):
        checks.append(UniqueKey(tuple(key)))
    counts = count_violations(
        ctx, table, checks, by="_extract_date", where=IN_WINDOW, params=ctx.window
    )
    if counts.empty:
        outcome.skipped = "no rows in the run's partitions"
        return outcome
    counts = pd.concat(
        [missing_columns(present, contract.field_names()), counts], ignore_index=True
    )
    outcome.notes["rules"] = len(checks) + len(contract.field_names())
    outcome.validations.append(
        judge_violations(
            ctx,
            gate,
            counts,
            checks,
            lambda check: [
                row[0]
                for row in ctx.db.rows(
                    sample_sql(check, table, IN_WINDOW, personal=contract.personal_fields),
                    ctx.window,
                )
            ],
        )
    )
    return outcome


def arrivals(ctx: GateContext, sources: Sequence[str]) -> pd.DataFrame:
    """Each source's newest delivered extract (a file, even one without rows) and how many days
    it is behind the run's last partition, against the lag allowed (extract_lag_days).

    `days_late` is the lag beyond the allowance (> 0: late); NULL when the source never
    delivered anything. The extract log (ingestion/loader.py) says what was delivered: an
    extract that held no rows still arrived.
    """
    newest = dict(
        ctx.db.rows(
            f"SELECT source, max(extract_date) FROM raw.{EXTRACT_LOADS} "
            "WHERE files > 0 AND source IN (SELECT unnest(?)) GROUP BY source",
            [list(sources)],
        )
    )
    rows = []
    for source in sources:
        latest = newest.get(source)
        allowed = ctx.config.extract_lag_days[source]
        lag = None if latest is None else (ctx.run_date - latest).days
        rows.append(
            (
                source,
                None if latest is None else str(latest),
                lag,
                allowed,
                None if lag is None else lag - allowed,
            )
        )
    return pd.DataFrame(
        rows, columns=["source", "newest_extract", "lag_days", "max_lag_days", "days_late"]
    )


def arrival_expectations() -> list:
    """Every source delivered something (not NULL), and recently enough (not late)."""
    return [expect_not_null("days_late"), expect_between("days_late", max_value=0)]


def arrival_summary(frame: pd.DataFrame, what: str) -> str | None:
    """One line on the sources of `frame` that never delivered or are late, None if none."""
    never = list(frame.loc[frame["newest_extract"].isna(), "source"])
    if never:
        names = ", ".join(never)
        return (
            f"{names}: declared but none of its extracts has been loaded: deliver them to "
            f"landing/{never[0]}/<YYYY-MM-DD>/ and run those dates, or leave {names} out of "
            f"XMO_SOURCES / sources.yml if the organisation has no such data"
        )
    late = frame[frame["days_late"].fillna(0) > 0]
    if late.empty:
        return None
    return "; ".join(
        f"{r.source} is late: its newest extract is {r.newest_extract}, {r.lag_days} days "
        f"before {what} (allowed: {r.max_lag_days})"
        for r in late.itertuples()
    )


def raw_freshness(ctx: GateContext, source: str) -> GateOutcome:
    """The source's extracts arrive: the newest delivered is at most extract_lag_days[source]
    behind the run's date (and one was ever delivered); and each of the run's extracts holds
    recent records, its newest event at most freshness_days['raw'] older than its extract date
    (sources with an event column)."""
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_is_fresh"
    if source not in ctx.sources:
        return not_configured(gate, [source], "nothing is expected from it")
    arrived = arrivals(ctx, [source])
    outcome = GateOutcome(gate, [validate(ctx, arrived, gate, arrival_expectations())])
    outcome.summary = arrival_summary(arrived, f"the run's date {ctx.run_date}")
    outcome.notes.update(
        newest_extract=arrived.at[0, "newest_extract"],
        max_lag_days=int(arrived.at[0, "max_lag_days"]),
    )
    if source not in RAW_EVENT_COLUMNS:
        return outcome
    column = RAW_EVENT_COLUMNS[source]
    summary = ctx.db.frame(
        f"SELECT CAST(_extract_date AS VARCHAR) AS extract_date, "
        f"date_diff('day', CAST(max({column}) AS DATE), _extract_date) AS lag_days "
        f"FROM raw.{contract.table} WHERE {IN_WINDOW} GROUP BY _extract_date ORDER BY 1",
        ctx.window,
    )
    if summary.empty:
        outcome.notes["records"] = "no rows in the run's partitions"
        return outcome
    days = ctx.config.freshness_days["raw"]
    # An extract whose event column is all NULL has no lag to judge: that fails too.
    expectations = [expect_not_null("lag_days"), expect_between("lag_days", max_value=days)]
    outcome.validations.append(validate(ctx, summary, f"{gate}_records", expectations))
    outcome.notes["max_record_lag_days"] = days
    return outcome
