"""The dbt project as assets: seeds, staging, intermediate and marts, with dbt tests as checks."""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.partitions import extract_window_vars
from orchestration.resources import WAREHOUSE_POOL, XmoDataDir
from orchestration.settings import stage_reference_seeds
from orchestration.translator import XmoDbtTranslator


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=XmoDbtTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def xmo_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, xmo: XmoDataDir
    ) -> Iterator[Any]:
        """`dbt build` of the selected models: seeds, models and their tests, in DAG order.

        The incremental models process the extract dates of the run's partitions.
        """
        stage_reference_seeds(xmo.settings)
        args = ["build"]
        window = extract_window_vars(context.run.tags)
        if window:
            args += ["--vars", json.dumps(window)]
            context.log.info(f"incremental window: {window}")
        yield from dbt.cli(args, context=context).stream()

    return xmo_dbt_models


def published_mart_keys(project: DbtProject) -> list[dg.AssetKey]:
    """Every model in the marts folder: what publication copies to the reporting database."""
    manifest = json.loads(project.manifest_path.read_text())
    translator = XmoDbtTranslator()
    keys = [
        translator.get_asset_key(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1:2] == ["marts"]
    ]
    return sorted(keys, key=lambda k: k.to_user_string())
