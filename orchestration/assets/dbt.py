"""The dbt project as assets: seeds, staging, intermediate and marts, with dbt tests as checks."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtProject, dbt_assets

from ingestion.pseudonym_key import (
    PseudonymKeyError,
    dbt_secrets,
    ensure_key,
    fingerprint,
    warehouse_key,
)
from orchestration.build_state import (
    PERIOD_MARTS_BEHIND,
    BuildState,
    incremental_code_digest,
    models_code_digest,
    period_marts_rebuild_reasons,
    read_build_state,
    reference_digest,
    write_build_state,
)
from orchestration.partitions import (
    FULL_REFRESH_TAG,
    extract_dates_loaded_since,
    extract_window_vars,
)
from orchestration.policies import TRANSIENT_RETRY
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir, XmoDbtCliResource
from orchestration.settings import Settings, stage_reference_seeds
from orchestration.translator import XmoDbtTranslator, is_mart
from quality.tables import TableProfile, profile_tables

# DuckDB's message when another process holds the warehouse file: worth a retry.
WAREHOUSE_LOCKED = "Could not set lock on file"
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class BuiltTable:
    """A dbt node that leaves a table behind (seed, table, incremental), as the UI reports it."""

    relation: str
    covers: str | None  # the period column named by the model's `meta.covers`
    preview: bool  # marts only: upstream layers hold pseudonymised rows and survey comments
    incremental: bool
    by_period: bool  # rebuilt by touched period (meta `touched_by`: macros/touched_periods.sql)


def built_tables(
    manifest: dict[str, Any], translator: XmoDbtTranslator
) -> dict[dg.AssetKey, BuiltTable]:
    tables = {}
    for node in manifest["nodes"].values():
        materialized = node["config"].get("materialized")
        if node["resource_type"] not in ("model", "seed") or materialized == "view":
            continue
        tables[translator.get_asset_key(node)] = BuiltTable(
            relation=f"{node['schema']}.{node['alias']}",
            covers=node["config"].get("meta", {}).get("covers"),
            preview=is_mart(node),
            incremental=materialized == "incremental",
            by_period=bool(node["config"].get("meta", {}).get("touched_by")),
        )
    return tables


def _markdown(columns: list[str], rows: list[tuple]) -> str:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    return "\n".join([header, *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)])


def table_metadata(profile: TableProfile) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(profile.row_count),
        "dagster/table_name": dg.MetadataValue.text(profile.relation),
    }
    if profile.covers:
        metadata["covers"] = dg.MetadataValue.text(f"{profile.covers[0]} … {profile.covers[1]}")
    if profile.preview is not None:
        metadata["preview"] = dg.MetadataValue.md(_markdown(*profile.preview))
    return metadata


def _failed_nodes(invocation: Any) -> list[str]:
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except (OSError, KeyError, ValueError):
        return []
    return [
        f"{r['unique_id']}: {(r.get('message') or r['status']).strip().splitlines()[0]}"
        for r in results
        if r["status"] in ("error", "fail")
    ]


def build_dbt_assets(project: DbtProject, translator: XmoDbtTranslator) -> dg.AssetsDefinition:
    manifest = json.loads(project.manifest_path.read_text())
    tables = built_tables(manifest, translator)
    incremental_code = incremental_code_digest(manifest)
    models_code = models_code_digest(manifest, Path(project.project_dir) / "dbt_project.yml")

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
        retry_policy=TRANSIENT_RETRY,
    )
    def xmo_dbt_models(
        context: dg.AssetExecutionContext, dbt: XmoDbtCliResource, xmo: XmoDataDir
    ) -> Iterator[Any]:
        """`dbt build` of the selected models: seeds, models and their tests, in DAG order.

        The incremental models process the extract dates of the run's partitions.
        """
        settings = xmo.settings_from_environment()
        stage_reference_seeds(settings)
        incremental = {key for key, table in tables.items() if table.incremental}
        window = extract_window_vars(context.run.tags) or _window_loaded_since_last_build(
            context, incremental
        )
        dbt_vars = settings.dbt_vars()
        context.log.info(f"dbt build with vars {dbt_vars}, extract window {window or 'new dates'}")
        # dbt unit tests check the model code, not the data: `make test` runs them
        # (tests/integration/test_pipeline.py), every run of the pipeline need not.
        args = ["build", "--vars", json.dumps(dbt_vars), "--exclude-resource-type", "unit_test"]
        try:
            key = ensure_key(settings.data_dir)
        except PseudonymKeyError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        state = BuildState(
            settings.sources,
            incremental_code,
            fingerprint(key),
            reference_digest(settings.staged_seeds_dir, dbt_vars, models_code),
        )
        previous = read_build_state(settings.build_state_path)
        asked = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        if not asked and (problem := _key_problem(previous, state, settings, key)):
            raise dg.Failure(description=problem, allow_retries=False)
        reasons = state.differences(previous) + (
            ["asked for (xmo run --full-refresh)"] if asked else []
        )
        if reasons:
            # The incremental models' rows were built for other sources, by other code or with
            # another key (orchestration/build_state.py): rebuild them whole.
            context.log.info(f"full refresh: {'; '.join(reasons)}")
            args.append("--full-refresh")
        environment = dict(dbt_secrets(key))
        selected_keys = set(context.selected_asset_keys)
        by_period = {key for key, table in tables.items() if table.by_period}
        behind = settings.build_state_path.with_name(PERIOD_MARTS_BEHIND)
        if not reasons and (
            why := period_marts_rebuild_reasons(
                selected_keys,
                incremental,
                behind.exists(),
                previous is not None and previous.reference != state.reference,
            )
        ):
            context.log.info(f"the period marts rebuild every period: {'; '.join(why)}")
            environment["XMO_REBUILD_MARTS"] = "1"
        if selected_keys & incremental:
            behind.parent.mkdir(parents=True, exist_ok=True)
            behind.touch()  # until this build has rebuilt every period mart
        # The key reaches the dbt process alone, under a name dbt masks (dbt_key_plugin.py).
        # On DuckDB dbt runs in this process (its imports paid once); a Spark session would
        # keep its JVM here after the build, so Spark targets keep a dbt process.
        invocation = dbt.cli_for_window(
            args, window, context, environment, in_process=not settings.on_spark
        )
        events: list[Any] = []
        selected = len(context.selected_asset_keys)
        for event in invocation.stream():
            events.append(event)
            if isinstance(event, dg.Output):
                built = sum(isinstance(e, dg.Output) for e in events)
                context.log.info(f"dbt built {event.output_name} ({built} of {selected})")
        dbt.keep_parse_state(invocation)
        xmo.refresh_spark_catalog()
        # dbt has exited and released the warehouse: profile what it built, read-only.
        yield from _with_table_metadata(context, events, tables, xmo)
        error = invocation.get_error()
        if error is None:
            # Only a build of every incremental model has rebuilt them with these sources.
            if incremental <= selected_keys:
                write_build_state(settings.build_state_path, state)
            if by_period <= selected_keys:
                behind.unlink(missing_ok=True)
            return
        if WAREHOUSE_LOCKED in str(error):
            raise error  # transient: TRANSIENT_RETRY runs the step again
        failed = _failed_nodes(invocation)
        raise dg.Failure(
            description=f"dbt build failed on {len(failed)} node(s): " + "; ".join(failed[:5]),
            metadata={"failed_nodes": dg.MetadataValue.md("\n".join(f"- {f}" for f in failed))},
            allow_retries=False,
        )

    return xmo_dbt_models


REBUILD = (
    "run `xmo run --all --full-refresh` to rebuild every pseudonym from raw (which keeps the "
    "ids) with this installation's key"
)


def _key_problem(
    previous: BuildState | None, state: BuildState, settings: Settings, key: str
) -> str | None:
    """Why a build with this key would mix two keys in one mart; None when it would not."""
    if previous is not None and previous.pseudonym_key:
        if previous.pseudonym_key == state.pseudonym_key:
            return None
        return (
            "the warehouse's pseudonyms were made with another key than this installation's "
            f"(the key in {settings.pseudonym_key_path} or XMO_PSEUDONYM_SALT changed): "
            f"{REBUILD}, or restore the old key"
        )
    # No fingerprint recorded: a warehouse built before there was one. Ask its data.
    made_with = warehouse_key(settings.models_path, key)
    if made_with == "public":
        return (
            "the warehouse was built with the public default pseudonym salt of the repository, "
            f"with which anyone can re-identify every employee: {REBUILD}"
        )
    if made_with == "other":
        return f"the warehouse's pseudonyms were made with another key: {REBUILD}"
    return None


def _window_loaded_since_last_build(
    context: dg.AssetExecutionContext, incremental: set[dg.AssetKey]
) -> dict[str, str]:
    """The extract dates loaded since the least recently built incremental model of this run.

    A backfill from the UI runs the raw loads with their partitions and the (unpartitioned) dbt
    models apart, sometimes in several runs; each must rebuild what was loaded since it last ran.
    """
    built = [
        event.timestamp
        for key in context.selected_asset_keys & incremental
        if (event := context.instance.get_latest_materialization_event(key)) is not None
    ]
    if not built:
        return {}  # first build: the incremental models build from everything there is
    raw_keys = [key for key in context.assets_def.dependency_keys if key.path[0] == "raw"]
    dates = extract_dates_loaded_since(context.instance, raw_keys, min(built))
    if not dates:
        return {}
    context.log.info(
        f"no partition on this run: rebuilding the extract dates loaded since: {dates}"
    )
    return {"extract_date_from": dates[0], "extract_date_to": dates[-1]}


def _with_table_metadata(
    context: dg.AssetExecutionContext,
    events: Sequence[Any],
    tables: dict[dg.AssetKey, BuiltTable],
    xmo: XmoDataDir,
) -> Iterator[Any]:
    outputs = {
        id(event): context.asset_key_for_output(event.output_name)
        for event in events
        if isinstance(event, dg.Output)
    }
    wanted = {tables[key].relation: tables[key] for key in outputs.values() if key in tables}
    profiles = profile_tables(
        xmo.settings_from_environment().models_path,
        {relation: table.covers for relation, table in wanted.items()},
        {relation for relation, table in wanted.items() if table.preview},
        PREVIEW_ROWS,
    )
    for event in events:
        key = outputs.get(id(event))
        table = tables.get(key) if key else None
        if table and table.relation in profiles:
            yield event.with_metadata(
                {**event.metadata, **table_metadata(profiles[table.relation])}
            )
        else:
            yield event


def published_mart_keys(project: DbtProject) -> list[dg.AssetKey]:
    """Every model in the marts folder: what publication copies to the reporting database."""
    manifest = json.loads(project.manifest_path.read_text())
    translator = XmoDbtTranslator()
    keys = [translator.get_asset_key(node) for node in manifest["nodes"].values() if is_mart(node)]
    return sorted(keys, key=lambda k: k.to_user_string())
