"""Publication of the validated marts to the reporting database and Parquet."""

import dagster as dg

from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir
from quality.publish import publish_marts

PUBLISH_KEY = dg.AssetKey(["reporting", "xmo_reporting"])


def build_publish_asset(
    mart_keys: list[dg.AssetKey], freshness: dg.FreshnessPolicy | None = None
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
        result = publish_marts(
            settings.warehouse_path,
            settings.reporting_path,
            settings.reporting_parquet_dir,
            [key.path[-1] for key in mart_keys],
        )
        rows = "\n".join(f"| {mart} | {count} |" for mart, count in sorted(result.rows.items()))
        context.log.info(f"published {len(result.rows)} marts to {result.database}")
        return dg.MaterializeResult(
            metadata={
                "database": dg.MetadataValue.path(str(result.database)),
                "parquet_dir": dg.MetadataValue.path(str(result.parquet_dir)),
                "rows_per_mart": dg.MetadataValue.md("| mart | rows |\n|---|---|\n" + rows),
                "dagster/row_count": dg.MetadataValue.int(sum(result.rows.values())),
            }
        )

    return xmo_reporting
