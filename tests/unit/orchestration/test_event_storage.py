"""The batching event log stores a multi-partition step's materializations as Dagster would."""

import inspect
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from orchestration.event_storage import BatchingSqliteEventLogStorage
from orchestration.instance import ensure_dagster_home
from orchestration.settings import Settings

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-31")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def loaded(context: dg.AssetExecutionContext) -> None:
    # One output for the run's 30 partitions, each materialization with its own row count.
    context.add_output_metadata({"rows": len(context.partition_keys)})


@dg.asset(deps=[loaded])
def built() -> None:
    return None


@dg.asset_check(asset=built)
def built_is_there() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


# The check's planned event lands among the assets' planned events, in the same batch.
JOB = dg.Definitions(
    assets=[loaded, built],
    asset_checks=[built_is_there],
    jobs=[dg.define_asset_job("j", selection="*")],
).resolve_job_def("j")


@pytest.fixture(autouse=True)
def _batch_size_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage sets DAGSTER_EVENT_BATCH_SIZE in the process: leave it as it was found."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")


def _materializations(instance: dg.DagsterInstance, run_id: str) -> dict:
    """Everything a user or the UI reads back about the run's materializations."""
    records = instance.fetch_materializations(loaded.key, limit=100).records
    in_run = [
        event
        for event in instance.all_logs(run_id)
        if event.dagster_event
        and event.dagster_event.is_step_materialization
        and event.dagster_event.asset_key == loaded.key
    ]
    [asset_record] = instance.get_asset_records([loaded.key])
    return {
        # Every event of the run, in the order stored (batches keep the order they came in).
        "event_types": [
            event.dagster_event_type for event in instance.all_logs(run_id) if event.dagster_event
        ],
        "partitions": sorted(instance.get_materialized_partitions(loaded.key)),
        "records": sorted(
            (r.partition_key, r.asset_materialization.metadata["rows"].value, r.run_id == run_id)
            for r in records
        ),
        "in_run_shard": len(in_run),
        "latest": instance.get_latest_materialization_event(loaded.key).dagster_event.partition,
        "last_record": asset_record.asset_entry.last_materialization_record.partition_key,
        "status": instance.get_status_by_partition(loaded.key, DAYS.get_partition_keys(), DAYS),
    }


def _run(instance: dg.DagsterInstance) -> dict:
    result = JOB.execute_in_process(
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "2026-01-01",
            ASSET_PARTITION_RANGE_END_TAG: "2026-01-30",
        },
    )
    assert result.success
    return _materializations(instance, result.run_id)


def _with_dagsters_own_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[[dg.DagsterInstance], dict]
) -> dict:
    """`run` on a home with Dagster's own SQLite storage, storing one event at a time."""
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(plain)) as instance:
        return run(instance)


def test_a_multi_partition_step_is_stored_in_one_batch_and_reads_back_as_dagsters_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    written_together: list[int] = []
    store_together = BatchingSqliteEventLogStorage._store_asset_events

    def spy(self, events):
        written_together.append(len(events))
        return store_together(self, events)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "_store_asset_events", spy)

    home = ensure_dagster_home(Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "ours")}))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        ours = _run(instance)
    # The run's planned materializations (30 partitions of `loaded`, ...) and then the 30
    # materializations of its one step, each written together; the check's planned event
    # among them is stored on its own, in its place.
    assert 30 in written_together and max(written_together) > 30
    assert ours["event_types"].count("ASSET_CHECK_EVALUATION_PLANNED") == 1

    theirs = _with_dagsters_own_storage(tmp_path, monkeypatch, _run)

    assert ours == theirs
    assert len(ours["partitions"]) == 30 and ours["in_run_shard"] == 30
    assert ours["records"][0] == ("2026-01-01", 30, True)


def test_a_home_written_before_keeps_its_history(tmp_path: Path):
    """The same files as Dagster's default: runs recorded before the switch are still there."""
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path)})
    home = settings.dagster_home
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(
        "# Written by xmo (rewritten when xmo's version changes; remove this line to keep "
        "edits).\ntelemetry:\n  enabled: false\n"
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        before = _run(instance)

    ensure_dagster_home(settings)  # rewrites our (marked) dagster.yaml with the new storage
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        assert _materializations(instance, "no such run")["partitions"] == before["partitions"]
        assert len(instance.get_runs()) == 1


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def broken(context: dg.AssetExecutionContext) -> None:
    raise RuntimeError("the landing folder is gone")


BROKEN_JOB = dg.Definitions(
    assets=[broken], jobs=[dg.define_asset_job("b", selection="*")]
).resolve_job_def("b")


def _failed_partitions(instance: dg.DagsterInstance) -> dict:
    result = BROKEN_JOB.execute_in_process(
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "2026-01-01",
            ASSET_PARTITION_RANGE_END_TAG: "2026-01-10",
        },
        raise_on_error=False,
    )
    assert not result.success
    statuses = instance.get_status_by_partition(broken.key, DAYS.get_partition_keys(), DAYS)
    return {key: status for key, status in (statuses or {}).items() if key <= "2026-01-10"}


def test_a_failed_multi_partition_run_still_marks_each_partition_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    home = ensure_dagster_home(Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "ours")}))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ours = _failed_partitions(instance)
    theirs = _with_dagsters_own_storage(tmp_path, monkeypatch, _failed_partitions)
    assert ours == theirs
    assert len(ours) == 10 and {status.value for status in ours.values()} == {"FAILED"}


def test_a_batch_whose_index_write_fails_is_stored_once_event_by_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store_tags = BatchingSqliteEventLogStorage._store_asset_event_tags
    failed: list[int] = []

    def locked_once(self, conn, events, event_ids):
        if len(events) == 30 and not failed:  # the step's 30 materializations, written together
            failed.append(len(events))
            raise RuntimeError("database is locked")
        return store_tags(self, conn, events, event_ids)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "_store_asset_event_tags", locked_once)
    home = ensure_dagster_home(Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "ours")}))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ours = _run(instance)
    theirs = _with_dagsters_own_storage(tmp_path, monkeypatch, _run)
    assert failed == [30]
    assert ours == theirs  # 30 materializations in the run's log and in the index, none twice


# What orchestration/event_storage.py calls of Dagster's private SQLite storage, with the
# parameters it passes. Dagster may change any of it in a release without notice.
PRIVATE_API = {
    "prepare_insert_event": ["event"],
    "run_connection": ["run_id"],
    "index_transaction": [],
    "_store_asset_event_tags": ["conn", "events", "event_ids"],
    "_store_asset_event": ["conn", "event", "event_id"],
}


def test_the_private_dagster_api_the_batching_storage_relies_on_has_not_moved():
    for name, parameters in PRIVATE_API.items():
        member = getattr(SqliteEventLogStorage, name, None)
        assert callable(member), (
            f"Dagster no longer has SqliteEventLogStorage.{name}, which "
            "orchestration/event_storage.py (BatchingSqliteEventLogStorage) calls: adapt that "
            "file to this Dagster, or drop it from orchestration/instance.py's dagster.yaml"
        )
        found = [p for p in inspect.signature(member).parameters if p != "self"]
        assert found == parameters, (
            f"SqliteEventLogStorage.{name} now takes {found}, not {parameters}: "
            "orchestration/event_storage.py calls it the old way; adapt that file"
        )
    assert issubclass(BatchingSqliteEventLogStorage, SqliteEventLogStorage)
