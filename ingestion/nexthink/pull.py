"""Pull one day of device snapshots from Nexthink into the landing zone.

A pull runs the saved NQL API query once and writes exactly what a file drop would:
landing/device/<day>/nexthink.csv, the answer's headers as the CSV header and one line per row
(nulls as empty fields), plus a snapshot_date column holding the day when the query returns
none. Headers that differ from the device contract are mapped by the device
mapping (ingestion/mappings/device.yml, overlaid by $XMO_DATA_DIR/mappings/device.yml) when
the file loads, as for any file drop; an answer that lacks a required column even after that
mapping is refused before anything is written.

The file is written aside and renamed over the day's file, so a pull that fails at any point
leaves the landing zone exactly as it was, and pulling a day again replaces its file.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.contracts import missing_required_columns
from ingestion.mapping import mapping_for
from ingestion.nexthink.client import NexthinkClient, NexthinkError
from ingestion.sources import DEVICE

log = logging.getLogger(__name__)

FILE_NAME = "nexthink.csv"
SNAPSHOT_DATE = "snapshot_date"


@dataclass(frozen=True)
class PullResult:
    day: date
    rows: int
    file: Path
    query_id: str
    headers: tuple[str, ...]

    @property
    def files(self) -> list[Path]:
        return [self.file]


def device_landing_path(landing_dir: Path, day: date) -> Path:
    return landing_dir / DEVICE.source / day.isoformat() / FILE_NAME


def pull_device_days(
    client: NexthinkClient,
    landing_dir: Path,
    day: date,
    *,
    mappings_dir: Path | None = None,
    parameters: Mapping[str, str] | None = None,
) -> PullResult:
    """Run the saved query and land its answer as the device extract of `day`.

    `mappings_dir` is $XMO_DATA_DIR/mappings (the overlay the load will use too); `parameters`
    are passed to the saved query as NQL API query parameters.
    """
    result = client.execute(parameters)
    headers, rows = list(result.headers), result.rows
    renamed = [mapping_for(DEVICE.source, mappings_dir).rename(h) for h in headers]
    if SNAPSHOT_DATE not in {name.strip().lower() for name in renamed}:
        # A query of one day need not repeat the day on every row: it is the extract's.
        headers.append(SNAPSHOT_DATE)
        renamed.append(SNAPSHOT_DATE)
        rows = [[*row, day.isoformat()] for row in rows]
    missing = missing_required_columns(DEVICE, renamed)
    if missing:
        raise NexthinkError(
            f"{result.query_id}: the answer lacks the device column(s) {', '.join(missing)} "
            f"(it has: {', '.join(result.headers) or 'none'}); alias them in the NQL query or "
            "map them in mappings/device.yml. Nothing was landed"
        )
    path = device_landing_path(landing_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    try:
        with staged.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(headers)
            writer.writerows(["" if v is None else v for v in row] for row in rows)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    log.info("%s: %s device rows into %s", result.query_id, len(rows), path)
    return PullResult(
        day=day,
        rows=len(rows),
        file=path,
        query_id=result.query_id,
        headers=tuple(headers),
    )
