"""What the warehouse was built with decides whether the next dbt build must start afresh."""

from __future__ import annotations

import copy

from orchestration.build_state import (
    BuildState,
    incremental_code_digest,
    models_code_digest,
    period_marts_rebuild_reasons,
    read_build_state,
    reference_digest,
    write_build_state,
)

MANIFEST = {
    "nodes": {
        "model.xmo.stg_itsm__tickets": {
            "unique_id": "model.xmo.stg_itsm__tickets",
            "resource_type": "model",
            "config": {"materialized": "incremental"},
            "raw_code": "select number from raw",
        },
        "model.xmo.dim_service": {
            "unique_id": "model.xmo.dim_service",
            "resource_type": "model",
            "config": {"materialized": "table"},
            "raw_code": "select 1",
        },
    },
    "macros": {
        "macro.xmo.latest_versions": {
            "unique_id": "macro.xmo.latest_versions",
            "package_name": "xmo",
            "macro_sql": "{% macro latest_versions() %}{% endmacro %}",
        },
        "macro.dbt.concat": {
            "unique_id": "macro.dbt.concat",
            "package_name": "dbt",
            "macro_sql": "{% macro concat() %}{% endmacro %}",
        },
    },
}


def _changed(path: tuple[str, ...], value: str) -> dict:
    manifest = copy.deepcopy(MANIFEST)
    node = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return manifest


def test_the_digest_follows_the_incremental_models_and_the_projects_macros_only():
    digest = incremental_code_digest(MANIFEST)
    incremental = ("nodes", "model.xmo.stg_itsm__tickets", "raw_code")
    macro = ("macros", "macro.xmo.latest_versions", "macro_sql")
    assert incremental_code_digest(_changed(incremental, "select number, cmdb_ci from raw")) != (
        digest
    )
    assert incremental_code_digest(_changed(macro, "{% macro latest_versions(x) %}")) != digest
    # A table rebuilt whole on every run, or dbt's own macros, change nothing stored.
    assert (
        incremental_code_digest(_changed(("nodes", "model.xmo.dim_service", "raw_code"), "x"))
        == digest
    )
    assert incremental_code_digest(_changed(("macros", "macro.dbt.concat", "macro_sql"), "")) == (
        digest
    )


def test_a_build_continues_only_from_a_record_of_the_same_sources_and_code(tmp_path):
    path = tmp_path / "state" / "warehouse_build.json"
    current = BuildState(("survey", "itsm"), "abc")
    assert current.differences(read_build_state(path)) == ["no record of the last build"]
    write_build_state(path, current)
    assert current.differences(read_build_state(path)) == []
    grown = BuildState(("survey", "itsm", "device"), "abc")
    assert grown.differences(read_build_state(path)) == [
        "sources changed from survey, itsm to survey, itsm, device"
    ]
    rewritten = BuildState(("survey", "itsm"), "def")
    assert rewritten.differences(read_build_state(path)) == ["the incremental models' code changed"]
    path.write_text("not json")
    assert read_build_state(path) is None  # unreadable: start afresh


def test_the_reference_digest_follows_the_seeds_and_the_thresholds(tmp_path):
    (tmp_path / "service_catalog.csv").write_text("service_id\nS1\n")
    thresholds = {"min_responses": 5, "baseline_weeks": 12}
    digest = reference_digest(tmp_path, thresholds)
    assert reference_digest(tmp_path, dict(reversed(thresholds.items()))) == digest
    assert reference_digest(tmp_path, {**thresholds, "min_responses": 6}) != digest
    (tmp_path / "service_catalog.csv").write_text("service_id\nS2\n")
    assert reference_digest(tmp_path, thresholds) != digest
    # The models' code: every model's SQL (a table a period mart reads) and the project's vars.
    project_file = tmp_path / "dbt_project.yml"
    project_file.write_text("vars:\n  min_lost_time_answers_for_interval: 150\n")
    code = models_code_digest(MANIFEST, project_file)
    assert reference_digest(tmp_path, thresholds, code) != reference_digest(tmp_path, thresholds)
    rewritten = _changed(("nodes", "model.xmo.dim_service", "raw_code"), "select 2")
    assert models_code_digest(rewritten, project_file) != code
    project_file.write_text("vars:\n  min_lost_time_answers_for_interval: 100\n")
    assert models_code_digest(MANIFEST, project_file) != code
    # The reference is kept with the build, and a record from before it has none.
    path = tmp_path / "warehouse_build.json"
    write_build_state(path, BuildState(("survey",), "abc", "key", digest))
    assert read_build_state(path).reference == digest
    path.write_text('{"sources": ["survey"], "incremental_code": "abc"}')
    assert read_build_state(path).reference == ""


def test_the_period_marts_take_the_touched_periods_only_from_a_whole_build_that_kept_up():
    incremental = {"stg_itsm__tickets", "int_device_days_scored", "service_experience_weekly"}
    reasons = period_marts_rebuild_reasons
    assert reasons(incremental, incremental, False, False) == []
    assert reasons(incremental | {"dim_service"}, incremental, False, False) == []
    # A build of the marts alone: their parents changed in some other build.
    assert reasons({"service_experience_weekly"}, incremental, False, False) == [
        "this build does not rebuild every incremental model"
    ]
    assert period_marts_rebuild_reasons(incremental, incremental, True, True) == [
        "an earlier build changed what they are built from without them, or stopped",
        "the reference data, the thresholds or the models' code changed",
    ]
