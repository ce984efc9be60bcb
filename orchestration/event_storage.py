"""Dagster's SQLite event log, writing a step's partition materializations in one transaction.

A backfill of a year loads 365 partitions of each raw table (and of its quarantine table) in one
run. Dagster's SQLite storage writes each asset event on its own: a new connection and a
committed transaction in the run's shard and again in the index shard. The L benchmark's full
refresh has 2,920 planned and 2,920 materialization events of that kind. Dagster already hands
a run's planned events, and the materializations of one multi-partition output, to
`store_event_batch` when DAGSTER_EVENT_BATCH_SIZE is set; the SQLite storage just stores them
one by one. This one stores such a batch as Dagster's `store_event` stores each event (the same
rows in the same files: a home switches to it without migrating), in one transaction per shard.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result

from orchestration.event_batches import enable_event_batches


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose batches of materializations are written in one go."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        # Dagster reads the size at every event, in whichever process runs the step (`xmo run`,
        # a run worker of the daemon or the UI): each of them loads this storage first.
        enable_event_batches()

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: Any, config_value: Any
    ) -> BatchingSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # Runs of consecutive asset events (materializations, their planned events, ...) take
        # one path through store_event and are written together; check and run events take
        # others and are stored one by one, in order. (A run's planned events mix both: storing
        # the whole batch one by one cost 19 s of a year's refresh.)
        for is_asset, group in itertools.groupby(events, key=_is_asset_event):
            same_run = list(group)
            if is_asset and len({event.run_id for event in same_run}) == 1:
                self._store_asset_events(same_run)
            else:
                for event in same_run:
                    self.store_event(event)

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        """What store_event does for each asset event, for all of them in one transaction per
        shard: the run's shard, then the cross-run index with tags and asset rows.

        Should a transaction fail (a shard locked past SQLite's timeout), what it held is
        stored event by event and nothing is written twice: Dagster stores a whole batch again
        after store_event_batch raises, so this raises only what storing one event raised.
        """
        statements = [self.prepare_insert_event(event) for event in events]
        try:
            with self.run_connection(events[0].run_id) as conn:
                for statement in statements:
                    conn.execute(statement)
        except Exception:
            for event in events:  # the transaction rolled back: nothing of the group is stored
                self.store_event(event)
            return
        try:
            with self.index_transaction() as conn:
                self._index_asset_events(conn, events, statements)
        except Exception:
            for event, statement in zip(events, statements, strict=True):
                with self.index_transaction() as conn:
                    self._index_asset_events(conn, [event], [statement])

    def _index_asset_events(self, conn: Any, events: list[EventLogEntry], statements: list) -> None:
        event_ids = []
        for statement in statements:
            with db_result(conn, statement) as result:
                event_ids.append(result.inserted_primary_key[0])
        self._store_asset_event_tags(conn, events, event_ids)
        for event, event_id in zip(events, event_ids, strict=True):
            self._store_asset_event(conn, event, event_id)


def _is_asset_event(event: EventLogEntry) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS
