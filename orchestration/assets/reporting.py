"""Publication of the validated marts to the reporting database and Parquet."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
)

from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir
from quality.publish import publish_marts
from quality.validation import build_docs_index

PUBLISH_KEY = dg.AssetKey(["reporting", "xmo_reporting"])


def failed_gates(instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey]) -> list[str]:
    """Blocking checks whose latest evaluation failed with ERROR severity.

    Within one run a failed blocking check already stops everything downstream. A backfill
    launched from the UI runs raw loads, dbt and publication as separate runs, so publication
    looks at the latest verdict of every gate itself before it replaces what readers see.
    """
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    failed = []
    for key, record in sorted(records.items(), key=lambda item: item[0].to_user_string()):
        if record.status != AssetCheckExecutionRecordStatus.FAILED or record.event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        if evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed.append(f"{key.asset_key.to_user_string()}:{key.name} (run {record.run_id[:8]})")
    return failed


def gate_verdicts(instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey]) -> pd.DataFrame:
    """The latest verdict of every check, for the cockpit's Data health page."""
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    rows = []
    for key, record in sorted(records.items(), key=lambda item: item[0].to_user_string()):
        # A check only planned (a backfill's other runs still to come) has no verdict yet.
        if record.status == AssetCheckExecutionRecordStatus.PLANNED or record.event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        rows.append(
            {
                "asset": key.asset_key.to_user_string(),
                "check_name": key.name,
                "passed": bool(evaluation.passed),
                "severity": evaluation.severity.value,
                # A raw gate's description may quote rows of the landing files (personal data);
                # the published verdict of a raw check is its name and outcome only.
                "description": ""
                if key.asset_key.path[0] == "raw"
                else evaluation.description or "",
                "run_id": record.run_id,
                "evaluated_at": datetime.fromtimestamp(record.event.timestamp, UTC).replace(
                    tzinfo=None
                ),
            }
        )
    columns = ["asset", "check_name", "passed", "severity", "description", "run_id", "evaluated_at"]
    return pd.DataFrame(rows, columns=columns).astype(
        {"passed": bool, "evaluated_at": "datetime64[us]"}
    )


def build_publish_asset(
    mart_keys: list[dg.AssetKey],
    freshness: dg.FreshnessPolicy | None = None,
    gates: list[dg.AssetCheckKey] | None = None,
    reported_checks: list[dg.AssetCheckKey] | None = None,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=mart_keys,
        group_name="reporting",
        # Reads the warehouse, which must not have a writer meanwhile (DuckDB file lock).
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "parquet"},
        retry_policy=TRANSIENT_RETRY,
        freshness_policy=freshness,
        description=(
            "The published marts: reporting/xmo_reporting.duckdb (schema marts, DuckDB v1.5.0 "
            "storage) and reporting/parquet/<mart>.parquet, replaced atomically. Runs only when "
            "every blocking check upstream passed, so readers never see unvalidated data."
        ),
    )
    def xmo_reporting(context: dg.AssetExecutionContext, xmo: XmoDataDir) -> dg.MaterializeResult:
        settings = xmo.settings
        blocked = failed_gates(context.instance, gates or [])
        if blocked:
            raise dg.Failure(
                description=f"not published: {len(blocked)} gate(s) failed: " + "; ".join(blocked),
                allow_retries=False,
            )
        publication = pd.DataFrame(
            {
                "published_at": [datetime.now(UTC).replace(tzinfo=None)],
                "run_id": [context.run_id],
            }
        )
        result = publish_marts(
            xmo.settings_from_environment().models_path,
            settings.reporting_path,
            settings.reporting_parquet_dir,
            [key.path[-1] for key in mart_keys],
            health={
                "publication": publication,
                "gates": gate_verdicts(context.instance, reported_checks or gates or []),
            },
        )
        rows = "\n".join(f"| {mart} | {count} |" for mart, count in sorted(result.rows.items()))
        context.log.info(
            f"published {len(result.rows)} marts to {result.database}; changed since the last "
            f"publication: {', '.join(result.changed) or 'none'}"
        )
        # Gates render only their own Data Docs page; the index is brought up to date once here.
        docs_index = build_docs_index(settings.quality_dir)
        docs = {"data_docs": dg.MetadataValue.url(docs_index.as_uri())} if docs_index else {}
        return dg.MaterializeResult(
            metadata={
                **docs,
                "database": dg.MetadataValue.path(str(result.database)),
                "parquet_dir": dg.MetadataValue.path(str(result.parquet_dir)),
                "rows_per_mart": dg.MetadataValue.md("| mart | rows |\n|---|---|\n" + rows),
                "marts_changed": dg.MetadataValue.json(result.changed),
                "dagster/row_count": dg.MetadataValue.int(sum(result.rows.values())),
            }
        )

    return xmo_reporting
