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

The query runs through the execute endpoint (at most 1,000 rows) or the export endpoint (any
size: the results file is downloaded next to the day's file and streamed from it row by row,
so memory stays flat whatever the estate's size); `method` says which, `auto` being execute and,
when its answer reaches the row limit, the export instead. Both land the same file.
"""

from __future__ import annotations

import csv
import logging
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

from ingestion.contracts import missing_required_columns
from ingestion.mapping import mapping_for
from ingestion.nexthink.client import (
    ExecuteRowLimitError,
    NexthinkClient,
    NexthinkError,
    check_method,
    open_results_csv,
)
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
    method: str = "execute"  # the endpoint whose answer was landed: execute or export
    export_id: str | None = None

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
    method: str = "execute",
) -> PullResult:
    """Run the saved query and land its answer as the device extract of `day`.

    `mappings_dir` is $XMO_DATA_DIR/mappings (the overlay the load will use too); `parameters`
    are passed to the saved query as NQL API query parameters. `method` is `execute` (here the
    default), `export`, or `auto`: execute, and the export when the answer reaches the execute
    endpoint's row limit (XMO_NEXTHINK_METHOD, whose default is auto).
    """
    method = check_method(method)
    if method != "export":
        try:
            result = client.execute(parameters)
        except ExecuteRowLimitError as exc:
            if method == "execute":
                raise
            log.warning(
                "%s: the execute answer reached its %s-row limit; running the export instead",
                client.query_id,
                exc.limit,
            )
        else:
            return _land_execute_answer(
                result.query_id, result.headers, result.rows, landing_dir, day, mappings_dir
            )
    return _land_export(client, landing_dir, day, mappings_dir, parameters)


def _landing_header(
    query_id: str, headers: Sequence[str], mappings_dir: Path | None
) -> tuple[list[str], bool]:
    """The landed file's header, and whether a snapshot_date column is added; or an error when
    the answer lacks a required device column even after the device mapping."""
    out = list(headers)
    renamed = [mapping_for(DEVICE.source, mappings_dir).rename(h) for h in out]
    add_day = SNAPSHOT_DATE not in {name.strip().lower() for name in renamed}
    if add_day:
        # A query of one day need not repeat the day on every row: it is the extract's.
        out.append(SNAPSHOT_DATE)
        renamed.append(SNAPSHOT_DATE)
    missing = missing_required_columns(DEVICE, renamed)
    if missing:
        raise NexthinkError(
            f"{query_id}: the answer lacks the device column(s) {', '.join(missing)} "
            f"(it has: {', '.join(headers) or 'none'}); alias them in the NQL query or "
            "map them in mappings/device.yml. Nothing was landed"
        )
    return out, add_day


def _write_aside(path: Path, header: list[str], rows: Iterable[Sequence[str | None]]) -> int:
    """Write the day's file next to it and rename it into place; the rows written."""
    staged = path.with_name(f".{path.name}.tmp")
    written = 0
    try:
        with staged.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
                written += 1
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return written


def _land_execute_answer(
    query_id: str,
    headers: list[str],
    rows: list[list[str | None]],
    landing_dir: Path,
    day: date,
    mappings_dir: Path | None,
) -> PullResult:
    header, add_day = _landing_header(query_id, headers, mappings_dir)
    if add_day:
        rows = [[*row, day.isoformat()] for row in rows]
    path = device_landing_path(landing_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = _write_aside(path, header, rows)
    log.info("%s: %s device rows into %s", query_id, written, path)
    return PullResult(day=day, rows=written, file=path, query_id=query_id, headers=tuple(header))


def _land_export(
    client: NexthinkClient,
    landing_dir: Path,
    day: date,
    mappings_dir: Path | None,
    parameters: Mapping[str, str] | None,
) -> PullResult:
    """Export, download the results file next to the day's file, land it row by row."""
    query_id = client.query_id
    export_id = client.start_export(parameters)
    url = client.wait_for_export(export_id)
    # Only a completed export touches the landing zone; a day folder made here for nothing
    # is removed again.
    path = device_landing_path(landing_dir, day)
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    download = path.with_name(f".{path.name}.download")  # not a readable suffix: never loaded
    landed = False
    try:
        size = client.download_results(url, download)
        log.info("export %s: results file of %s bytes downloaded", export_id, size)
        where = f"export {export_id} of {query_id}"
        with open_results_csv(download) as text:
            records = _csv_records(text, where)
            first = next(records, None)
            if first is None:
                raise NexthinkError(f"{where}: the results file has no header line")
            header, add_day = _landing_header(query_id, first, mappings_dir)
            suffix = [day.isoformat()] if add_day else []
            written = _write_aside(path, header, (record + suffix for record in records))
        landed = True
    finally:
        download.unlink(missing_ok=True)
        if not landed:
            for folder in made:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break
    log.info("%s: %s device rows into %s (export %s)", query_id, written, path, export_id)
    return PullResult(
        day=day,
        rows=written,
        file=path,
        query_id=query_id,
        headers=tuple(header),
        method="export",
        export_id=export_id,
    )


def _csv_records(text: TextIO, where: str) -> Iterator[list[str]]:
    """The records of the (decompressed) results file one at a time, blank lines skipped; a
    file that cannot be read (not UTF-8, a broken gzip or zip) is one error."""
    reader = csv.reader(text)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, EOFError, OSError, zlib.error, csv.Error) as error:
            raise NexthinkError(
                f"{where}: the results file cannot be read as UTF-8 CSV "
                f"({type(error).__name__}: {str(error)[:120]}); nothing was landed"
            ) from None
        if record:
            yield record
