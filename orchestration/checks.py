"""Quality gates as asset checks: every GX gate of quality/gates/ on the table it guards.

Each gate is blocking: a failed check of ERROR severity stops everything downstream, the
publication included. Which kinds warn instead is configuration (quality/gates.yml). One more
check, `experience_drops_this_week`, only warns: it tells, before publication, what the
experience-drop alerts will say after it.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from ingestion.sources import SOURCES
from orchestration.partitions import extract_window_vars
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir
from quality.config import load_gate_config
from quality.gates import (
    GateContext,
    GateOutcome,
    mart_freshness,
    mart_reconciliation,
    mart_schema,
    mart_volume,
    raw_freshness,
    raw_schema,
    raw_volume,
    unmapped_share,
    weekly_happiness_distribution,
)
from quality.specs import MARTS, RAW_EVENT_COLUMNS, MartSpec
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
    settings = xmo.settings_from_environment()
    window = extract_window_vars(context.run.tags)
    if window:
        first = date.fromisoformat(window["extract_date_from"])
        last = date.fromisoformat(window["extract_date_to"])
    else:
        latest = _latest_loaded_extract(context.instance)
        first = last = latest or datetime.now(UTC).date() - timedelta(days=1)
    partitions = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    return GateContext(
        database_path=settings.models_path,
        quality_dir=settings.quality_dir,
        run_date=last,
        partitions=partitions,
        config=load_gate_config(settings.gates_path),
        sources=settings.sources,
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
        description=outcome.description,
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
    """One GX gate on one table; `run` gets the run's context (and through it the database)."""

    asset: dg.AssetKey  # the table it guards
    name: str
    kind: str  # which severity of quality/gates.yml applies
    run: Callable[[GateContext], GateOutcome]
    description: str

    @property
    def check(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(self.asset, self.name)


def run_gates(
    gates: Sequence[Gate],
    make_context: Callable[[], GateContext],
    log: logging.Logger | dg.DagsterLogManager,
) -> Iterator[dg.AssetCheckResult]:
    """Each gate's result, in order, over one read-only connection closed when the last is done.

    The Data Docs index is rebuilt once at the end if a gate failed.
    """
    try:
        ctx = make_context()
    except Exception as exc:
        for gate in gates:
            yield _broken(gate.check, exc)
        return
    try:
        with data_docs_batch(ctx.quality_dir):
            yield from (_judged(gate, ctx, log) for gate in gates)
    finally:
        ctx.db.close()


def _judged(
    gate: Gate, ctx: GateContext, log: logging.Logger | dg.DagsterLogManager
) -> dg.AssetCheckResult:
    try:
        severity = (
            dg.AssetCheckSeverity.ERROR
            if ctx.config.severity[gate.kind] == "error"
            else dg.AssetCheckSeverity.WARN
        )
        outcome = gate.run(ctx)
    except Exception as exc:
        return _broken(gate.check, exc)
    log.info(
        f"{gate.name}: {'passed' if outcome.passed else 'FAILED'} "
        f"({outcome.evaluated} expectations, {len(outcome.failures)} failed)"
    )
    return _result(outcome, severity, gate.check)


def build_gates_step(name: str, gates: Sequence[Gate]) -> dg.AssetChecksDefinition:
    """Gates of several tables as one step: one connection, one set-up, many checks.

    Each gate stays its own blocking check on its own table (its own verdict, severity and
    metadata in the UI), and a run that selects some of the checks runs only those. One step
    per table cost ~0.7 s of Dagster set-up and events each, for a few hundred milliseconds of
    judging; all marts come from the one dbt step, so nothing waits longer. Gates read the
    warehouse, which a writer in another run (a backfill runs several at once) would hold
    locked: they take the warehouse's single slot like the writers do.
    """
    specs = [
        dg.AssetCheckSpec(gate.name, asset=gate.asset, blocking=True, description=gate.description)
        for gate in gates
    ]

    @dg.multi_asset_check(specs=specs, name=name, can_subset=True, pool=WAREHOUSE_POOL)
    def _gates(
        context: dg.AssetCheckExecutionContext, xmo: XmoDataDir
    ) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        yield from run_gates(
            [gate for gate in gates if gate.check in selected],
            lambda: gate_context(context, xmo),
            context.log,
        )

    return _gates


def _mart_gates(spec: MartSpec) -> list[Gate]:
    mart = dg.AssetKey(["marts", spec.table])

    def on_mart(gate: Callable) -> Callable[[GateContext], GateOutcome]:
        return lambda ctx: gate(ctx, spec)

    gates = [
        Gate(
            mart,
            f"{spec.table}_has_valid_schema_keys_and_ranges",
            "schema",
            on_mart(mart_schema),
            "GX: columns, unique key, not-nulls, ranges, accepted values and the low-sample "
            "rule: rule violations counted in DuckDB, judged by GX.",
        ),
        Gate(
            mart,
            f"{spec.table}_volume_holds_against_previous_run",
            "volume",
            on_mart(mart_volume),
            "GX: at least volume_min_ratio of the previous validated run's rows.",
        ),
    ]
    if spec.reconcile:
        gates.append(
            Gate(
                mart,
                f"{spec.table}_reconciles_with_staging",
                "reconciliation",
                on_mart(mart_reconciliation),
                "GX: the mart's totals equal the staging totals it is built from.",
            )
        )
    if spec.sources:
        gates.append(
            Gate(
                mart,
                f"{spec.table}_is_fresh",
                "freshness",
                on_mart(mart_freshness),
                "GX: the newest extract of every declared source the mart is built from ("
                + ", ".join(sorted(spec.sources))
                + ") is recent relative to the run partition.",
            )
        )
    if spec.table == "fct_ticket_experience":
        gates.append(
            Gate(
                mart,
                "fct_ticket_experience_unmapped_share_within_limit",
                "coverage",
                on_mart(unmapped_share),
                "GX: at most unmapped_share_max of the newest week's resolved tickets map to no "
                "service (no mapping rule matched them).",
            )
        )
    if spec.table == "service_experience_weekly":
        gates.append(
            Gate(
                mart,
                "service_experience_weekly_happiness_within_recent_history",
                "distribution",
                on_mart(weekly_happiness_distribution),
                "GX: the latest complete week's mean happiness lies within mean ± k sd of the 12 "
                "weeks before.",
            )
        )
    return gates


def _raw_gates(source: str) -> list[Gate]:
    table = SOURCES[source].contract.table
    raw = dg.AssetKey(["raw", table])
    gates = [
        Gate(
            raw,
            f"raw_{table}_has_valid_schema_keys_and_ranges",
            "schema",
            lambda ctx: raw_schema(ctx, source),
            "GX: the run's extracts against the source contract: rule violations counted per "
            "extract in DuckDB, judged by GX.",
        ),
        Gate(
            raw,
            f"raw_{table}_volume_holds_against_previous_runs",
            "volume",
            lambda ctx: raw_volume(ctx, source),
            "GX: every extract holds at least volume_min_ratio of the median of the previous "
            "extracts of its weekday.",
        ),
        Gate(
            raw,
            f"raw_{table}_is_fresh",
            "freshness",
            lambda ctx: raw_freshness(ctx, source),
            "GX: the source's newest extract arrived recently relative to the run partition"
            + (
                ", and every extract's newest event is recent relative to its extract date."
                if source in RAW_EVENT_COLUMNS
                else "."
            ),
        ),
    ]
    return gates


def build_gate_checks() -> list[dg.AssetChecksDefinition]:
    """One step of gates for the raw tables, one for the marts."""
    return [
        build_gates_step("raw_gates", [g for source in SOURCES for g in _raw_gates(source)]),
        build_gates_step("mart_gates", [g for spec in MARTS.values() for g in _mart_gates(spec)]),
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
        settings = xmo.settings_from_environment()
        if "survey" not in settings.sources:
            return dg.AssetCheckResult(
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                description="survey: not configured (XMO_SOURCES / sources.yml) — no answers "
                "to find drops in",
                metadata={"not_configured": ["survey"]},
            )
        try:
            with PublishedMarts(settings.models_path) as marts:
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
