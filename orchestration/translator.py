"""Map dbt nodes to asset keys that mirror the warehouse relation, and groups to folders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject


def is_mart(dbt_resource_props: Mapping[str, Any]) -> bool:
    """A model in the marts folder: published, gated, read by BI and the packs."""
    return dbt_resource_props["resource_type"] == "model" and dbt_resource_props["fqn"][1:2] == [
        "marts"
    ]


class XmoDbtTranslator(DagsterDbtTranslator):
    """Asset key = [schema, table]; group = dbt folder = warehouse schema.

    dbt sources in schema `raw` get the keys the ingestion assets produce, so lineage joins by
    convention. Marts carry the freshness policy of published data, when one is given.
    """

    def __init__(self, mart_freshness: dg.FreshnessPolicy | None = None) -> None:
        super().__init__()
        self.mart_freshness = mart_freshness

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        schema = dbt_resource_props["config"].get("schema") or dbt_resource_props["schema"]
        name = dbt_resource_props.get("alias") or dbt_resource_props["name"]
        return dg.AssetKey([schema, name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingestion"
        return dbt_resource_props["config"].get("schema")

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if self.mart_freshness and is_mart(self.get_resource_props(manifest, unique_id)):
            return spec.replace_attributes(freshness_policy=self.mart_freshness)
        return spec
