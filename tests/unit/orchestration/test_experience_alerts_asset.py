"""The experience-drop alerts in Dagster: the asset after publication, the warn-only check on
the weekly mart, and how both are wired into the one Definitions."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.assets.experience_alerts import EXPERIENCE_ALERTS_KEY, experience_alerts
from orchestration.assets.reporting import PUBLISH_KEY
from orchestration.assets.reports import WEEKLY_PACK_KEY
from orchestration.checks import (
    EXPERIENCE_CHANGES_KEY,
    WEEKLY_MART_KEY,
    build_experience_drop_check,
)
from orchestration.definitions import PIPELINE_JOB, build_definitions, publication_gates
from orchestration.resources import XmoDataDir
from orchestration.settings import Settings
from tests.unit.reporting.experience_marts import WEEK_LABEL, FakeWebhook, change, write_marts

DROP_CHECK = dg.AssetCheckKey(WEEKLY_MART_KEY, "experience_drops_this_week")


def materialize_alerts(settings: Settings) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [experience_alerts],
        resources={"xmo": XmoDataDir(data_dir=str(settings.data_dir))},
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture
def published(settings: Settings) -> Settings:
    write_marts(settings.reporting_path, [change("SVC04")])
    return settings


def test_the_asset_alerts_once_to_the_experience_webhook_first(published, monkeypatch):
    with FakeWebhook() as experience, FakeWebhook() as runs:
        monkeypatch.setenv("XMO_EXPERIENCE_WEBHOOK", experience.url)
        monkeypatch.setenv("XMO_ALERT_WEBHOOK", runs.url)
        first = materialize_alerts(published)
        second = materialize_alerts(published)

    assert first.success and second.success
    metadata = metadata_of(first)
    assert (metadata["week"], metadata["alerts_sent"], metadata["problems"]) == (
        WEEK_LABEL,
        1,
        "none",
    )
    assert metadata["alerts"].startswith("- Experience drop: Network and VPN (SVC04) happiness")
    assert metadata["alerts"].endswith(f"weekly/xmo_weekly_{WEEK_LABEL}.html")
    assert metadata_of(second)["alerts_sent"] == 0
    assert len(experience.received) == 1 and runs.received == []
    assert len(published.experience_alerts_log.read_text().splitlines()) == 1


def test_without_an_experience_webhook_the_run_alert_webhook_gets_the_alerts(
    published, monkeypatch
):
    monkeypatch.delenv("XMO_EXPERIENCE_WEBHOOK", raising=False)
    monkeypatch.setenv("XMO_REPORTS_URL", "https://xmo.example.org/reports")
    with FakeWebhook() as runs:
        monkeypatch.setenv("XMO_ALERT_WEBHOOK", runs.url)
        assert materialize_alerts(published).success

    [body] = runs.received
    assert body["link"] == f"https://xmo.example.org/reports/weekly/xmo_weekly_{WEEK_LABEL}.html"
    assert body["text"].endswith(body["link"])


def test_a_failing_webhook_is_a_problem_in_the_metadata_not_a_failed_run(published, monkeypatch):
    with FakeWebhook(status=503) as experience:
        monkeypatch.setenv("XMO_EXPERIENCE_WEBHOOK", experience.url)
        result = materialize_alerts(published)

    assert result.success
    metadata = metadata_of(result)
    assert metadata["alerts_sent"] == 1
    assert metadata["problems"] == "- SVC04 2026-05-11 happiness_score: webhook answered HTTP 503"
    assert len(published.experience_alerts_log.read_text().splitlines()) == 1


def test_nothing_published_fails_the_step_with_the_reason_and_no_retries(settings):
    result = materialize_alerts(settings)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "nothing published yet" in failure.event_specific_data.error.message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def run_check(settings: Settings, changes: list[dict]) -> dg.AssetCheckEvaluation:
    """The check after stand-ins of the two dbt models; the changes mart is written by its own."""

    @dg.asset(key=WEEKLY_MART_KEY)
    def weekly_mart() -> None: ...

    @dg.asset(key=EXPERIENCE_CHANGES_KEY, deps=[WEEKLY_MART_KEY])
    def experience_changes() -> None:
        write_marts(settings.warehouse_path, changes)

    defs = dg.Definitions(
        assets=[weekly_mart, experience_changes],
        asset_checks=[build_experience_drop_check()],
        resources={"xmo": XmoDataDir(data_dir=str(settings.data_dir))},
    )
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)
    assert result.success  # a warning never fails the run
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_the_check_warns_with_the_significant_drops_of_the_working_warehouse(settings):
    evaluation = run_check(
        settings,
        [change("SVC04"), change("SVC07", direction="better", value=80, reference_value=60)],
    )
    assert evaluation.check_name == "experience_drops_this_week"
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description == f"1 significant drop(s) in week {WEEK_LABEL}"
    drops = evaluation.metadata["significant_drops"].value
    assert drops.startswith("- Experience drop: Network and VPN (SVC04) happiness score +62")
    assert "SVC07" not in drops


def test_the_check_passes_when_nothing_got_significantly_worse(settings):
    evaluation = run_check(settings, [change("SVC04", significant=False, q_value=0.3)])
    assert evaluation.passed
    assert evaluation.description == f"no significant drops in week {WEEK_LABEL}"
    assert evaluation.metadata["significant_drops"].value == "no significant drops"


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return build_definitions(Settings.from_env({"XMO_DATA_DIR": "/tmp/xmo-definitions-test"}))


def test_the_alerts_follow_publication_and_the_weekly_pack_in_the_pipeline(definitions):
    graph = definitions.resolve_asset_graph()
    node = graph.get(EXPERIENCE_ALERTS_KEY)
    assert node.group_name == "reporting"
    assert node.parent_keys == {PUBLISH_KEY, WEEKLY_PACK_KEY}
    pipeline = definitions.resolve_job_def(PIPELINE_JOB).asset_layer
    assert EXPERIENCE_ALERTS_KEY in pipeline.executable_asset_keys
    assert DROP_CHECK in pipeline.asset_graph.asset_check_keys


def test_the_drop_check_warns_on_the_dbt_weekly_mart_after_the_changes_mart_and_never_gates(
    definitions,
):
    graph = definitions.resolve_asset_graph()
    # Both keys are models of the dbt project: the check waits for the changes mart's build.
    dbt_models = graph.get(WEEKLY_MART_KEY).assets_def
    assert dbt_models.node_def.name == "xmo_dbt_models"
    assert graph.get(EXPERIENCE_CHANGES_KEY).assets_def is dbt_models
    spec = graph.get_check_spec(DROP_CHECK)
    assert not spec.blocking
    assert [dep.asset_key for dep in spec.additional_deps] == [EXPERIENCE_CHANGES_KEY]
    gates = publication_gates(graph.get_check_spec(key) for key in graph.asset_check_keys)
    assert DROP_CHECK not in gates
    assert dg.AssetCheckKey(WEEKLY_MART_KEY, "service_experience_weekly_is_fresh") in gates
