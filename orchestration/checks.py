"""Quality gates as asset checks: every GX gate of quality/gates.py on the table it guards.

Each gate is blocking: a failed check of ERROR severity stops everything downstream, the
publication included. Which kinds warn instead is configuration (quality/gates.yml). One more
check, `experience_drops_this_week`, only warns: it tells, before publication, what the
experience-drop alerts will say after it.
"""

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd

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
from quality.validation import data_docs_batch
from reporting.experience_alerts import find_drops
from reporting.marts import PublishedMarts


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
        database_path=xmo.settings_from_environment().models_path,
        quality_dir=settings.quality_dir,
        run_date=last,
        partitions=partitions,
        config=load_gate_config(settings.quality_dir / "gates.yml"),
    )


def _result(
    outcome: GateOutcome, severity: dg.AssetCheckSeverity, check: dg.AssetCheckKey
) -> dg.AssetCheckResult:
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
    return dg.AssetCheckResult(
        asset_key=check.asset_key,
        check_name=check.name,
        passed=outcome.passed,
        severity=severity,
        metadata=metadata,
    )


def _broken(check: dg.AssetCheckKey, exc: Exception) -> dg.AssetCheckResult:
    """A gate that cannot run is a failed check, never a pass."""
    return dg.AssetCheckResult(
        asset_key=check.asset_key,
        check_name=check.name,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"error": f"{type(exc).__name__}: {exc}"},
    )


@dataclass(frozen=True)
class Gate:
    """One GX gate on one table; `run` gets the run's context and the table's frame, on demand."""

    name: str
    kind: str  # which severity of quality/gates.yml applies
    run: Callable[[GateContext, Callable[[], pd.DataFrame]], GateOutcome]
    description: str


def run_gates(
    gates: Sequence[Gate],
    asset: dg.AssetKey,
    make_context: Callable[[], GateContext],
    read_frame: Callable[[GateContext], pd.DataFrame],
    log: logging.Logger | dg.DagsterLogManager,
) -> Iterator[dg.AssetCheckResult]:
    """Each gate's result, in order; the table is read once, by the first gate that needs it.

    The Data Docs pages of the gates' validations are rendered together when the last is done.
    """
    try:
        ctx = make_context()
    except Exception as exc:
        for gate in gates:
            yield _broken(dg.AssetCheckKey(asset, gate.name), exc)
        return
    frame = functools.cache(lambda: read_frame(ctx))
    with data_docs_batch(ctx.quality_dir):
        for gate in gates:
            check = dg.AssetCheckKey(asset, gate.name)
            try:
                severity = (
                    dg.AssetCheckSeverity.ERROR
                    if ctx.config.severity[gate.kind] == "error"
                    else dg.AssetCheckSeverity.WARN
                )
                outcome = gate.run(ctx, frame)
            except Exception as exc:
                yield _broken(check, exc)
                continue
            log.info(
                f"{gate.name}: {'passed' if outcome.passed else 'FAILED'} "
                f"({outcome.evaluated} expectations, {len(outcome.failures)} failed)"
            )
            yield _result(outcome, severity, check)


def build_asset_gates(
    asset: dg.AssetKey,
    gates: Sequence[Gate],
    read_frame: Callable[[GateContext], pd.DataFrame] = lambda ctx: pd.DataFrame(),
) -> dg.AssetChecksDefinition:
    """Every gate of one table as one step: one read of the table, one set-up, several checks.

    Each gate stays its own blocking check (its own verdict, severity and metadata in the UI);
    one step per gate cost a second of Dagster and DuckDB set-up each, and read a mart once per
    gate. Gates read the warehouse, which a writer in another run (a backfill runs several at
    once) would hold locked: they take the warehouse's single slot like the writers do.
    """
    specs = [
        dg.AssetCheckSpec(gate.name, asset=asset, blocking=True, description=gate.description)
        for gate in gates
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{asset.path[0]}_{asset.path[-1]}_gates",
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _gates(
        context: dg.AssetCheckExecutionContext, xmo: XmoDataDir
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {key.name for key in context.selected_asset_check_keys}
        yield from run_gates(
            [gate for gate in gates if gate.name in selected],
            asset,
            lambda: gate_context(context, xmo),
            read_frame,
            context.log,
        )

    return _gates


def _mart_gates(spec: MartSpec) -> dg.AssetChecksDefinition:
    def on_mart(gate: Callable) -> Callable[[GateContext, Callable[[], pd.DataFrame]], GateOutcome]:
        return lambda ctx, frame: gate(ctx, spec, frame())

    gates = [
        Gate(
            f"{spec.table}_has_valid_schema_keys_and_ranges",
            "schema",
            on_mart(mart_schema),
            "GX: columns, unique key, not-nulls, ranges, accepted values and the low-sample rule.",
        ),
        Gate(
            f"{spec.table}_volume_holds_against_previous_run",
            "volume",
            on_mart(mart_volume),
            "GX: at least volume_min_ratio of the previous validated run's rows.",
        ),
    ]
    if spec.reconcile:
        gates.append(
            Gate(
                f"{spec.table}_reconciles_with_staging",
                "reconciliation",
                on_mart(mart_reconciliation),
                "GX: the mart's totals equal the staging totals it is built from.",
            )
        )
    if spec.freshness_column:
        gates.append(
            Gate(
                f"{spec.table}_is_fresh",
                "freshness",
                on_mart(mart_freshness),
                f"GX: the newest {spec.freshness_column} is recent relative to the run partition.",
            )
        )
    if spec.table == "service_experience_weekly":
        gates.append(
            Gate(
                "service_experience_weekly_happiness_within_recent_history",
                "distribution",
                lambda ctx, frame: weekly_happiness_distribution(ctx, frame()),
                "GX: the latest complete week's mean happiness lies within mean ± k sd of the 12 "
                "weeks before.",
            )
        )
    return build_asset_gates(
        dg.AssetKey(["marts", spec.table]), gates, lambda ctx: read_mart(ctx, spec.table)
    )


def _raw_gates(source: str) -> dg.AssetChecksDefinition:
    table = SOURCES[source].contract.table
    gates = [
        Gate(
            f"raw_{table}_has_valid_schema_keys_and_ranges",
            "schema",
            lambda ctx, _: raw_schema(ctx, source),
            "GX: the run's extracts against the source contract: rule violations counted per "
            "extract in DuckDB, judged by GX.",
        ),
        Gate(
            f"raw_{table}_volume_holds_against_previous_runs",
            "volume",
            lambda ctx, _: raw_volume(ctx, source),
            "GX: every extract holds at least volume_min_ratio of the median of the previous 28.",
        ),
    ]
    if source in RAW_EVENT_COLUMNS:
        gates.append(
            Gate(
                f"raw_{table}_is_fresh",
                "freshness",
                lambda ctx, _: raw_freshness(ctx, source),
                "GX: every extract's newest event is recent relative to its extract date.",
            )
        )
    return build_asset_gates(dg.AssetKey(["raw", table]), gates)


def build_gate_checks() -> list[dg.AssetChecksDefinition]:
    """One step of gates per mart and per raw table."""
    return [_mart_gates(spec) for spec in MARTS.values()] + [
        _raw_gates(source) for source in SOURCES
    ]


WEEKLY_MART_KEY = dg.AssetKey(["marts", "service_experience_weekly"])
EXPERIENCE_CHANGES_KEY = dg.AssetKey(["marts", "experience_changes"])


def build_experience_drop_check() -> dg.AssetChecksDefinition:
    """A warning on the weekly mart when a service's newest complete week got worse."""

    @dg.asset_check(
        asset=WEEKLY_MART_KEY,
        name="experience_drops_this_week",
        # Judged from the changes mart, so it runs once that is built too.
        additional_deps=[EXPERIENCE_CHANGES_KEY],
        # A drop is news about the services, not a defect of the data: it never stops publication.
        blocking=False,
        # Reads the working warehouse, which a writer in another run may hold locked.
        pool=WAREHOUSE_POOL,
    )
    def experience_drops_this_week(
        context: dg.AssetCheckExecutionContext, xmo: XmoDataDir
    ) -> dg.AssetCheckResult:
        """Warns when marts.experience_changes, in the working warehouse, holds significant
        `worse` changes of the newest complete week (service × indicator × reference window):
        what the experience-drop alerts will raise once the marts are published."""
        try:
            with PublishedMarts(xmo.settings_from_environment().models_path) as marts:
                week, drops = find_drops(marts)
        except Exception as exc:
            # A check that cannot look is not a pass; it stays a warning like its verdicts.
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"could not read the experience changes: {exc}",
                metadata={"error": f"{type(exc).__name__}: {exc}"},
            )
        lines = [drop.describe() for drop in drops]
        context.log.info(f"experience_drops_this_week: {len(drops)} drop(s) in {week.label}")
        return dg.AssetCheckResult(
            passed=not drops,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{len(drops)} significant drop(s) in week {week.label}"
                if drops
                else f"no significant drops in week {week.label}"
            ),
            metadata={
                "week": week.label,
                "drops": len(drops),
                "significant_drops": dg.MetadataValue.md(
                    "\n".join(f"- {line}" for line in lines) or "no significant drops"
                ),
            },
        )

    return experience_drops_this_week
