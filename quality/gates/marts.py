"""Gates on the published marts: their spec, their totals against staging, their freshness.

A mart that needs a source the organisation does not declare is published empty: its gates
check its columns and say why it is empty, and those that could only fail for the absence
(freshness, volume) are not judged.

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
    not_configured,
    sample_sql,
    validate,
)
from quality.gates.raw import arrival_expectations, arrival_summary, arrivals
from quality.rules import UniqueKey, mart_rules, quoted
from quality.specs import (
    NEWEST_RESOLVED_WEEK_SQL,
    ROWS,
    STAGING_TOTALS,
    UNMAPPED_IN_WEEK_SQL,
    MartSpec,
)
from quality.validation import expect_between


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
    return empty_by_design(ctx, spec, outcome)


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
    return empty_by_design(ctx, spec, outcome)


def mart_freshness(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """The mart is as fresh as the extracts it was built from: the newest delivered extract of
    every declared source it reads is at most extract_lag_days[source] behind the run's date.

    Not its newest row: a month without proactive answers, or a department without devices, is
    no staleness when the source delivered its extracts.
    """
    gate = f"{spec.table}_is_fresh"
    missing = ctx.not_declared(spec.needs)
    if missing:
        return not_configured(gate, missing, "the mart is published empty")
    arrived = arrivals(ctx, sorted(spec.sources & set(ctx.sources)))
    outcome = GateOutcome(gate, [validate(ctx, arrived, gate, arrival_expectations())])
    outcome.summary = arrival_summary(arrived, f"the run's date {ctx.run_date}")
    outcome.notes.update(
        built_from={r.source: r.newest_extract for r in arrived.itertuples()},
        run_date=str(ctx.run_date),
        max_lag_days={r.source: int(r.max_lag_days) for r in arrived.itertuples()},
    )
    if unused := ctx.not_declared(spec.uses):
        outcome.notes["not_configured"] = unused
    return outcome


def empty_by_design(ctx: GateContext, spec: MartSpec, outcome: GateOutcome) -> GateOutcome:
    """Say so on a gate of a mart that is empty because a source it needs is not declared."""
    missing = ctx.not_declared(spec.needs)
    if missing:
        outcome.notes["not_configured"] = missing
        outcome.summary = (
            f"{', '.join(missing)}: not configured (XMO_SOURCES / sources.yml) — the mart is "
            "published empty, with its columns"
        )
    return outcome


def unmapped_share(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """The share of the newest week's resolved tickets that no mapping rule gives a service is
    at most unmapped_share_max: above it, the mapping rules miss part of the organisation."""
    gate = f"{spec.table}_unmapped_share_within_limit"
    week = ctx.db.scalar(NEWEST_RESOLVED_WEEK_SQL)
    if week is None:
        return GateOutcome(gate, skipped="no resolved ticket yet")
    resolved, unmapped = ctx.db.rows(UNMAPPED_IN_WEEK_SQL, [week, week])[0]
    share = unmapped / resolved
    limit = ctx.config.unmapped_share_max
    summary = pd.DataFrame({"week_start": [str(week)], "unmapped_share": [share]})
    outcome = GateOutcome(
        gate, [validate(ctx, summary, gate, [expect_between("unmapped_share", max_value=limit)])]
    )
    outcome.summary = describe_unmapped(share, resolved, f"the week of {week}", limit)
    outcome.notes.update(
        week=str(week), resolved=resolved, unmapped=unmapped, unmapped_share=round(share, 4)
    )
    return outcome


def describe_unmapped(share: float, resolved: int, week: str, limit: float) -> str:
    """One line on a week's unmapped tickets, with what to do when they are too many."""
    line = f"{share:.1%} of the {resolved:,} tickets resolved in {week} map to no service"
    if share > limit:
        line += (
            f", over {limit:.0%}: add mapping rules (xmo services suggest drafts them; "
            "docs/sources.md)"
        )
    return line
