"""Dagster's event batching, switched on in every process that runs steps.

Dagster hands a step's partition materializations (365 per raw table in a year's backfill) to
the event storage as one batch only when DAGSTER_EVENT_BATCH_SIZE is set; it reads the variable
at every event, in the process that runs the step. Both storages write a batch at once: ours on
SQLite (orchestration/event_storage.py), dagster-postgres on PostgreSQL, where a year's full
refresh at M took 184 s without batches and 133 s with them (docs/deploy.md).
"""

from __future__ import annotations

import os

# Events held before a write: a year of daily partitions is one write per output.
EVENT_BATCH_SIZE = "1000"


def enable_event_batches() -> None:
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
