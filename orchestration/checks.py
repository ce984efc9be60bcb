"""Quality gates as asset checks: every GX gate of quality/gates.py on the table it guards.

Each check is blocking: a failed check of ERROR severity stops everything downstream, the
publication included. Which kinds warn instead is configuration (quality/gates.yml).
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from ingestion.sources import SOURCES
from orchestration.partitions import extract_window_vars
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir
from quality.config import load_gate_config
from quality.gates import (
    MARTS,
    RAW_EVENT_COLUMNS,
    GateContext,
    GateOutcome,
    MartSpec,
    mart_freshness,
    mart_reconciliation,
    mart_schema,
    mart_volume,
    raw_freshness,
    raw_schema,
    raw_volume,
    read_mart,
    weekly_happiness_distribution,
)

GateFn = Callable[[GateContext], GateOutcome]


def _latest_loaded_extract(instance: dg.DagsterInstance) -> date | None:
    loaded = [
        date.fromisoformat(partition)
        for source in SOURCES.values()
        for partition in instance.get_materialized_partitions(
            dg.AssetKey(["raw", source.contract.table])
        )
    ]
    return max(loaded, default=None)


def gate_context(context: dg.AssetCheckExecutionContext, xmo: XmoDataDir) -> GateContext:
    """The run's partitions (and so its date) from its tags.

    A run without partitions (the marts step of a UI backfill, a manual materialization) is
    judged against the newest extract date loaded; yesterday if nothing was ever loaded.
    """
    settings = xmo.settings
    window = extract_window_vars(context.run.tags)
    if window:
        first = date.fromisoformat(window["extract_date_from"])
        last = date.fromisoformat(window["extract_date_to"])
    else:
        latest = _latest_loaded_extract(context.instance)
        first = last = latest or datetime.now(UTC).date() - timedelta(days=1)
    partitions = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    return GateContext(
        warehouse_path=settings.warehouse_path,
        quality_dir=settings.quality_dir,
        run_date=last,
        partitions=partitions,
        config=load_gate_config(settings.quality_dir / "gates.yml"),
    )


def _result(outcome: GateOutcome, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    failures = "\n".join(f"- {failure.describe()}" for failure in outcome.failures)
    metadata: dict[str, object] = {
        "expectations_evaluated": outcome.evaluated,
        "expectations_failed": len(outcome.failures),
        "batches_validated": len(outcome.validations),
        "failures": dg.MetadataValue.md(failures or "none"),
    }
    if outcome.skipped:
        metadata["skipped"] = outcome.skipped
    if outcome.docs_pages:
        metadata["data_docs"] = dg.MetadataValue.url(outcome.docs_pages[-1].as_uri())
    for key, value in outcome.notes.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
    return dg.AssetCheckResult(passed=outcome.passed, severity=severity, metadata=metadata)


def build_gate_check(
    asset: dg.AssetKey, name: str, kind: str, run_gate: GateFn, description: str
) -> dg.AssetChecksDefinition:
    # Gates read the warehouse, which a writer in another run (a backfill runs several at once)
    # would hold locked: they take the warehouse's single slot like the writers do.
    @dg.asset_check(
        asset=asset, name=name, blocking=True, description=description, pool=WAREHOUSE_POOL
    )
    def _check(context: dg.AssetCheckExecutionContext, xmo: XmoDataDir) -> dg.AssetCheckResult:
        try:
            ctx = gate_context(context, xmo)
            severity = (
                dg.AssetCheckSeverity.ERROR
                if ctx.config.severity[kind] == "error"
                else dg.AssetCheckSeverity.WARN
            )
            outcome = run_gate(ctx)
        except Exception as exc:  # a check that cannot run is a failed check, never a pass
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"error": f"{type(exc).__name__}: {exc}"},
            )
        context.log.info(
            f"{name}: {'passed' if outcome.passed else 'FAILED'} "
            f"({outcome.evaluated} expectations, {len(outcome.failures)} failed)"
        )
        return _result(outcome, severity)

    return _check


def _mart_checks(spec: MartSpec) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(["marts", spec.table])

    def on_mart(gate: Callable) -> GateFn:
        return lambda ctx: gate(ctx, spec, read_mart(ctx, spec.table))

    checks = [
        build_gate_check(
            key,
            f"{spec.table}_has_valid_schema_keys_and_ranges",
            "schema",
            on_mart(mart_schema),
            "GX: columns, unique key, not-nulls, ranges, accepted values and the low-sample rule.",
        ),
        build_gate_check(
            key,
            f"{spec.table}_volume_holds_against_previous_run",
            "volume",
            on_mart(mart_volume),
            "GX: at least volume_min_ratio of the previous validated run's rows.",
        ),
    ]
    if spec.reconcile:
        checks.append(
            build_gate_check(
                key,
                f"{spec.table}_reconciles_with_staging",
                "reconciliation",
                on_mart(mart_reconciliation),
                "GX: the mart's totals equal the staging totals it is built from.",
            )
        )
    if spec.freshness_column:
        checks.append(
            build_gate_check(
                key,
                f"{spec.table}_is_fresh",
                "freshness",
                on_mart(mart_freshness),
                f"GX: the newest {spec.freshness_column} is recent relative to the run partition.",
            )
        )
    if spec.table == "service_experience_weekly":
        checks.append(
            build_gate_check(
                key,
                "service_experience_weekly_happiness_within_recent_history",
                "distribution",
                lambda ctx: weekly_happiness_distribution(ctx, read_mart(ctx, spec.table)),
                "GX: the latest complete week's mean happiness lies within mean ± k sd of the 12 "
                "weeks before.",
            )
        )
    return checks


def _raw_checks(source: str) -> list[dg.AssetChecksDefinition]:
    table = SOURCES[source].contract.table
    key = dg.AssetKey(["raw", table])
    checks = [
        build_gate_check(
            key,
            f"raw_{table}_has_valid_schema_keys_and_ranges",
            "schema",
            lambda ctx: raw_schema(ctx, source),
            "GX: the run's extracts against the source contract, a chunk of whole "
            "partitions at a time.",
        ),
        build_gate_check(
            key,
            f"raw_{table}_volume_holds_against_previous_runs",
            "volume",
            lambda ctx: raw_volume(ctx, source),
            "GX: every extract holds at least volume_min_ratio of the median of the previous 28.",
        ),
    ]
    if source in RAW_EVENT_COLUMNS:
        checks.append(
            build_gate_check(
                key,
                f"raw_{table}_is_fresh",
                "freshness",
                lambda ctx: raw_freshness(ctx, source),
                "GX: every extract's newest event is recent relative to its extract date.",
            )
        )
    return checks


def build_gate_checks() -> list[dg.AssetChecksDefinition]:
    checks = [check for spec in MARTS.values() for check in _mart_checks(spec)]
    checks += [check for source in SOURCES for check in _raw_checks(source)]
    return checks
