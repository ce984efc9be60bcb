"""The dbt project keeps its conventions (STYLE.md 8-11), checked over dbt's own manifest."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from orchestration.settings import DBT_PROJECT_DIR
from quality.specs import MARTS


@cache
def manifest() -> dict:
    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not path.exists():
        pytest.fail("no dbt manifest: run `make manifest` (make test does)")
    return json.loads(path.read_text())


def models() -> list[dict]:
    return [n for n in manifest()["nodes"].values() if n["resource_type"] == "model"]


def layer(node: dict) -> str:
    return node["fqn"][1]


def test_staging_models_are_named_for_their_source_and_alone_read_sources():
    for node in models():
        reads_source = bool(node["depends_on"]["nodes"]) and any(
            d.startswith("source.") for d in node["depends_on"]["nodes"]
        )
        if layer(node) == "staging":
            source_folder = node["fqn"][2]
            assert re.fullmatch(rf"stg_{source_folder}__[a-z_]+", node["name"]), node["name"]
        else:
            assert not reads_source, f"{node['name']} calls source(); only staging may"


def test_intermediate_models_are_named_int_entity_verb():
    for node in models():
        if layer(node) == "intermediate":
            assert re.fullmatch(r"int_[a-z]+(_[a-z]+)+", node["name"]), node["name"]


def test_the_marts_are_exactly_the_published_contract_and_each_has_its_gates():
    # DESIGN §4's marts (with the second round's experience_changes and journey marts) plus
    # the channel breakdown; quality/gates.py gates each of them.
    assert {n["name"] for n in models() if layer(n) == "marts"} == set(MARTS)
    assert len(MARTS) == 14


def test_every_mart_enforces_a_contract_with_typed_described_columns():
    for node in models():
        if layer(node) != "marts":
            continue
        assert node["config"]["contract"]["enforced"], node["name"]
        assert node["columns"], node["name"]
        for name, column in node["columns"].items():
            assert column.get("data_type"), f"{node['name']}.{name} has no data_type"
            assert column.get("description"), f"{node['name']}.{name} has no description"


def test_every_model_states_its_grain():
    for node in models():
        assert "One row per" in node["description"], f"{node['name']} does not state its grain"


def test_every_mart_has_a_tested_key():
    tested = {
        n["attached_node"]
        for n in manifest()["nodes"].values()
        if n["resource_type"] == "test" and n.get("test_metadata", {}).get("name") == "unique"
    }
    for node in models():
        if layer(node) == "marts":
            assert node["unique_id"] in tested, f"{node['name']} has no unique test"


def test_every_metric_formula_has_unit_tests():
    tested = {n["model"] for n in manifest()["unit_tests"].values()}
    for mart in (
        "service_experience_weekly",
        "service_experience_monthly",
        "experience_changes",
        "int_employee_device_month",
        "device_ticket_experience_monthly",
        "xla_baseline",
        "xla_scorecard",
        "watermelon_services",
        "int_device_days_scored",
    ):
        assert mart in tested, mart


def test_the_session_packs_and_dashboards_are_declared_as_exposures():
    exposures = {e["name"] for e in manifest()["exposures"].values()}
    assert exposures == {
        "xmo_weekly_session_pack",
        "xmo_monthly_session_pack",
        "bi_experience_dashboards",
    }


def test_every_incremental_model_replaces_its_extracts_by_a_date_partition_of_its_own():
    # One strategy on every engine (macros/incremental.sql); on Spark it replaces whole
    # partitions of the `partition_by` date (tests/spark builds them) and finds the rows of
    # the window's extracts by the meta's extract date columns.
    incremental = [
        n
        for n in models()
        if n["config"]["materialized"] == "incremental"
        and n["config"]["incremental_strategy"] != "replace_periods"
    ]
    assert len(incremental) == 6
    for node in incremental:
        assert node["config"]["incremental_strategy"] == "replace_extracts", node["name"]
        assert node["config"]["unique_key"], node["name"]
        assert node["config"]["meta"].get("extract_date_columns"), node["name"]
        partitioned = re.search(r"partition_by=replaced_partitions\('\w+'\)", node["raw_code"])
        assert partitioned, node["name"]


def test_the_published_marts_rebuild_the_periods_a_run_touched_or_are_rebuilt_whole():
    # macros/touched_periods.sql: a period mart says which column its periods are in, which
    # dates of the run touch them (`touched_by`) and at which grain.
    by_period = {
        n["name"]: n["config"]
        for n in models()
        if n["config"].get("incremental_strategy") == "replace_periods"
    }
    assert set(by_period) == {
        "service_experience_weekly",
        "service_experience_monthly",
        "channel_experience_monthly",
        "proactive_experience_monthly",
        "fct_ticket_experience",
        "int_tickets_mapped_to_services",
        "device_experience_weekly",
        "int_employee_journeys_joined",
        "dex_band_experience_monthly",
        "device_ticket_experience_monthly",
    }
    kinds = {"experience", "proactive", "device", "journey", "tickets"}
    for name, config in by_period.items():
        meta = config["meta"]
        assert config["materialized"] == "incremental", name
        assert meta["touched_by"] in kinds, name
        assert meta["period_column"], name
        expected_grain = None if meta["touched_by"] == "tickets" else meta["period_column"][:-6]
        assert meta.get("period_grain") == expected_grain, name  # week_start: week
    # What is computed across periods (baselines, changes against them, the scorecard) is
    # rebuilt whole, from the weekly and monthly marts.
    whole = {n["name"] for n in models() if n["config"]["materialized"] == "table"}
    assert {"experience_changes", "xla_baseline", "xla_scorecard"} <= whole
