"""Raw assets: one per landing source, daily-partitioned by extract date."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg

from ingestion.errors import LandingFileError
from ingestion.loader import (
    ClearedSource,
    LoadProgress,
    PartitionLoad,
    clear_source,
    load_partitions,
)
from ingestion.mapping import MappingError
from ingestion.sources import SOURCES, Source
from orchestration.assets.happysignals import HAPPYSIGNALS_PULL_KEY
from orchestration.assets.intune import INTUNE_PULL_KEY
from orchestration.assets.nexthink import NEXTHINK_PULL_KEY
from orchestration.assets.servicenow import SERVICENOW_PULL_KEY
from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir

FILES_SHOWN = 60


def _metadata(loads: list[PartitionLoad]) -> dict[str, dg.MetadataValue]:
    files = [f for load in loads for f in load.files]
    empty = [load.extract_date.isoformat() for load in loads if not load.files]
    delivered = [load.extract_date.isoformat() for load in loads if load.files]
    # Every file's own balance (read = loaded + quarantined); the latest files first, capped so
    # a year-long backfill keeps its metadata readable (the totals above cover every file).
    file_rows = "\n".join(
        f"| {Path(f.file).parent.name}/{Path(f.file).name} | {f.rows_read} | {f.loaded} "
        f"| {f.quarantined} |"
        for f in files[::-1][:FILES_SHOWN]
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(sum(load.loaded for load in loads)),
        "covers": dg.MetadataValue.text(
            f"extract dates {delivered[0]} … {delivered[-1]}" if delivered else "no extracts"
        ),
        "partitions": dg.MetadataValue.int(len(loads)),
        "files": dg.MetadataValue.int(len(files)),
        "rows_read": dg.MetadataValue.int(sum(f.rows_read for f in files)),
        "rows_loaded": dg.MetadataValue.int(sum(f.loaded for f in files)),
        "rows_quarantined": dg.MetadataValue.int(sum(f.quarantined for f in files)),
        "partitions_without_files": dg.MetadataValue.text(", ".join(empty) or "none"),
        "files_read": dg.MetadataValue.md(
            "| file | read | loaded | quarantined |\n|---|---|---|---|\n" + file_rows
            if files
            else "no files"
        ),
    }


def _quarantine_metadata(loads: list[PartitionLoad]) -> dict[str, dg.MetadataValue]:
    reasons: dict[str, int] = {}
    for load in loads:
        for reason, count in load.quarantine_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    reason_table = "\n".join(
        f"| {reason} | {count} |" for reason, count in sorted(reasons.items(), key=lambda r: -r[1])
    )
    by_date = "\n".join(
        f"| {load.extract_date} | {load.quarantined} |" for load in loads if load.quarantined
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(sum(load.quarantined for load in loads)),
        "quarantine_reasons": dg.MetadataValue.md(
            "| reason | rows |\n|---|---|\n" + reason_table if reasons else "none"
        ),
        "quarantined_by_extract_date": dg.MetadataValue.md(
            "| extract date | rows |\n|---|---|\n" + by_date if by_date else "none"
        ),
    }


# The pulls that write each source's landing files (a file drop may write them too); a raw
# asset depends on its source's pulls, so lineage shows where the files came from.
PULLED_BY: dict[str, tuple[dg.AssetKey, ...]] = {
    "itsm": (SERVICENOW_PULL_KEY,),
    "directory": (SERVICENOW_PULL_KEY,),
    "survey": (HAPPYSIGNALS_PULL_KEY,),
    "device": (NEXTHINK_PULL_KEY, INTUNE_PULL_KEY),
}
# Every pull asset: each runs as its own job, outside the daily pipeline.
PULL_KEYS: tuple[dg.AssetKey, ...] = tuple(
    sorted({key for keys in PULLED_BY.values() for key in keys}, key=lambda k: k.path)
)


def build_raw_asset(source: Source, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    contract = source.contract
    raw_key = dg.AssetKey(["raw", contract.table])
    quarantine_key = dg.AssetKey(["raw", contract.quarantine_table])

    @dg.multi_asset(
        name=f"load_{source.name}",
        specs=[
            dg.AssetSpec(
                raw_key,
                deps=list(PULLED_BY.get(source.name, ())),
                group_name="ingestion",
                kinds={"duckdb", "python"},
                description=(
                    f"Landing files of the `{source.name}` source loaded into "
                    f"raw.{contract.table}. One partition per extract date; a rerun replaces "
                    "its partition."
                ),
            ),
            dg.AssetSpec(
                quarantine_key,
                group_name="quality",
                kinds={"duckdb"},
                description=(
                    f"Rows of `{source.name}` landing files that broke the contract, with the "
                    "file, line, raw record and every reason; loaded + quarantined = rows read."
                ),
            ),
        ],
        partitions_def=partitions_def,
        # A backfill of many days is one run that loads them in order, one transaction each.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        retry_policy=TRANSIENT_RETRY,
    )
    def _load(context: dg.AssetExecutionContext, xmo: XmoDataDir) -> Iterator[dg.MaterializeResult]:
        dates = [date.fromisoformat(key) for key in context.partition_keys]
        settings = xmo.settings_from_environment()
        if source.name not in settings.sources:
            cleared = clear_source(
                settings.warehouse_path,
                source,
                settings.raw_parquet_dir if settings.writes_raw_parquet else None,
            )
            context.log.info(_not_configured(cleared))
            xmo.refresh_spark_catalog()
            for key, metadata in _not_configured_metadata(cleared).items():
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            return
        loads: list[PartitionLoad] = []
        # Running totals every 15 s and the dates with quarantined rows, not a line per date:
        # each line is an event Dagster writes (730 of them in a year's refresh).
        progress = LoadProgress(source.name, len(dates), context.log.info)
        try:
            for load in load_partitions(
                settings.warehouse_path,
                settings.landing_dir,
                source,
                dates,
                settings.mappings_dir,
                parquet_dir=settings.raw_parquet_dir if settings.writes_raw_parquet else None,
            ):
                loads.append(load)
                progress.add(load)
            progress.finish()
        except LandingFileError as exc:
            raise dg.Failure(
                description=f"{source.name} extract not loaded, partition left unchanged: {exc}",
                metadata={"file": exc.path, "problem": exc.problem},
                allow_retries=False,
            ) from None
        except MappingError as exc:
            raise dg.Failure(
                description=f"{source.name} mapping: {exc}", allow_retries=False
            ) from None
        xmo.refresh_spark_catalog()  # the raw gates read the new days from there on Spark
        yield dg.MaterializeResult(asset_key=raw_key, metadata=_metadata(loads))
        yield dg.MaterializeResult(asset_key=quarantine_key, metadata=_quarantine_metadata(loads))

    def _not_configured_metadata(cleared: ClearedSource) -> dict[dg.AssetKey, dict]:
        note = dg.MetadataValue.text(_not_configured(cleared))
        return {
            raw_key: {
                "dagster/row_count": dg.MetadataValue.int(0),
                "configured": dg.MetadataValue.bool(False),
                "note": note,
            },
            quarantine_key: {"dagster/row_count": dg.MetadataValue.int(0), "note": note},
        }

    return _load


def _not_configured(cleared: ClearedSource) -> str:
    emptied = (
        f"; emptied {cleared.rows} rows, {cleared.quarantined} quarantined rows and "
        f"{cleared.extracts} extracts loaded while it was declared"
        if cleared.rows or cleared.quarantined or cleared.extracts
        else ""
    )
    return (
        f"{cleared.source}: not configured (not in XMO_SOURCES / sources.yml): nothing loaded, "
        f"its raw table stays empty{emptied}"
    )


def build_raw_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_raw_asset(source, partitions_def) for source in SOURCES.values()]
