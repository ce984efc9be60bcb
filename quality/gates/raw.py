"""Gates on the raw tables: a run's extracts against their source contract, and their freshness.

Raw tables are judged a run's partitions at a time (`_extract_date` in the run's window), so a
daily run judges one extract and a backfill its range, never all history.
"""

from __future__ import annotations

import pandas as pd

from ingestion.sources import SOURCES
from quality.gates.common import (
    GateContext,
    GateOutcome,
    count_violations,
    judge_violations,
    missing_columns,
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
                row[0] for row in ctx.db.rows(sample_sql(check, table, IN_WINDOW), ctx.window)
            ],
        )
    )
    return outcome


def raw_freshness(ctx: GateContext, source: str) -> GateOutcome:
    """Each extract's newest event is at most freshness_days['raw'] older than the extract."""
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_is_fresh"
    column = RAW_EVENT_COLUMNS[source]
    summary = ctx.db.frame(
        f"SELECT CAST(_extract_date AS VARCHAR) AS extract_date, "
        f"date_diff('day', CAST(max({column}) AS DATE), _extract_date) AS lag_days "
        f"FROM raw.{contract.table} WHERE {IN_WINDOW} GROUP BY _extract_date ORDER BY 1",
        ctx.window,
    )
    if summary.empty:
        return GateOutcome(gate, skipped="no rows in the run's partitions")
    days = ctx.config.freshness_days["raw"]
    # An extract whose event column is all NULL has no lag to judge: that fails too.
    expectations = [expect_not_null("lag_days"), expect_between("lag_days", max_value=days)]
    outcome = GateOutcome(gate, [validate(ctx, summary, gate, expectations)])
    outcome.notes["max_lag_days"] = days
    return outcome
