"""Gates on the published marts: their spec, their totals against staging, their freshness.

Every question is answered in the database (rule violations counted, totals summed, the newest
period found); GX judges the answers. No mart is read into pandas.
"""

from __future__ import annotations

import pandas as pd

from quality.gates.common import (
    GateContext,
    GateOutcome,
    count_violations,
    judge_violations,
    missing_columns,
    sample_sql,
    validate,
)
from quality.rules import UniqueKey, mart_rules, quoted
from quality.specs import ROWS, STAGING_TOTALS, MartSpec
from quality.validation import expect_between, expect_not_null


def relation(spec: MartSpec) -> str:
    return f"marts.{spec.table}"


def mart_schema(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """Columns, unique key, not-nulls, ranges, accepted values and the low-sample rule."""
    gate = f"{spec.table}_has_valid_schema_keys_and_ranges"
    table = relation(spec)
    types = ctx.db.columns(table)
    present = set(types)
    floating = {c for c, kind in types.items() if kind in ("DOUBLE", "FLOAT")}
    # A rule on a missing column cannot be counted; the missing column fails on its own.
    checks = [rule for rule in mart_rules(spec, floating) if rule.column in present]
    if spec.low_sample_nulls and "low_sample" not in present:
        checks = [rule for rule in checks if not rule.label.endswith("__shown_for_low_sample")]
    if set(spec.key) <= present:
        checks.append(UniqueKey(spec.key))
    counts = pd.concat(
        [missing_columns(sorted(present), spec.columns()), count_violations(ctx, table, checks)],
        ignore_index=True,
    )
    outcome = GateOutcome(gate, notes={"rules": len(counts)})
    outcome.validations.append(
        judge_violations(
            ctx,
            gate,
            counts,
            checks,
            lambda check: [r[0] for r in ctx.db.rows(sample_sql(check, table))],
        )
    )
    return outcome


def _total_column(column: str) -> str:
    return "rows" if column == ROWS else column


def mart_reconciliation(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """The mart's totals (one row of them; GX judges each against its staging total)."""
    gate = f"{spec.table}_reconciles_with_staging"
    totals = {
        name: int(ctx.db.scalar(STAGING_TOTALS[name])) for name in set(spec.reconcile.values())
    }
    sums = ", ".join(
        "count(*)" if column == ROWS else f"coalesce(sum({quoted(column)}), 0)"
        for column in spec.reconcile
    )
    [values] = ctx.db.rows(f"SELECT {sums} FROM {relation(spec)}")
    mart_totals = {
        _total_column(column): value if isinstance(value, int) else float(value)
        for column, value in zip(spec.reconcile, values, strict=True)
    }
    summary = pd.DataFrame({column: [total] for column, total in mart_totals.items()})
    expectations = [
        expect_between(_total_column(column), totals[total], totals[total])
        for column, total in spec.reconcile.items()
    ]
    outcome = GateOutcome(gate, [validate(ctx, summary, gate, expectations)])
    outcome.notes["staging_totals"] = totals
    outcome.notes["mart_totals"] = mart_totals
    return outcome


def mart_freshness(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """The newest period is at most freshness_days[table] before the run's date."""
    gate = f"{spec.table}_is_fresh"
    days = ctx.config.freshness_days[spec.table]
    latest = ctx.db.scalar(
        f"SELECT CAST(max({quoted(spec.freshness_column or '')}) AS DATE) FROM {relation(spec)}"
    )
    lag = None if latest is None else (ctx.run_date - latest).days
    summary = pd.DataFrame({"latest": [str(latest)], "lag_days": [lag]})
    expectations = [expect_not_null("lag_days"), expect_between("lag_days", max_value=days)]
    outcome = GateOutcome(gate, [validate(ctx, summary, gate, expectations)])
    outcome.notes.update(latest=str(latest), run_date=str(ctx.run_date), max_lag_days=days)
    return outcome
