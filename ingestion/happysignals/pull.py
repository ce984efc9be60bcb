"""Pull changed survey responses from HappySignals into the landing zone, as a file drop would.

Items land as CSV in landing/survey/<day>/happysignals.csv with the API's own field names
(nested objects flattened to `parent.child`, lists of values joined with `;`); the survey
mapping (ingestion/mappings/survey.yml, overlaid by $XMO_DATA_DIR/mappings/survey.yml) renames
them to the contract when the file loads, exactly as for an export a person downloaded. The day
is the UTC day the response last changed (the `updated_at` field; `responded_at` when an item has
none): the extract date, so a response edited later lands again in that later day's extract and
staging keeps the latest copy. Items that break the contract are landed all the same; the load
quarantines them with the rest of the file loading.

Every page is fetched before anything is written, and every day file is written aside and then
renamed, so a pull that fails leaves landing and the watermark as they were. The watermark (in
state/happysignals_watermark.json) moves only after the files are in place; the next pull asks
from five minutes before it, and a response already in a day's file is replaced, never repeated.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingestion.happysignals.client import HappySignalsClient, format_time, parse_time
from ingestion.mapping import SourceMapping

log = logging.getLogger(__name__)

FILE_NAME = "happysignals.csv"


@dataclass
class PullResult:
    records: int = 0
    files: list[Path] = field(default_factory=list)
    watermark: str | None = None
    days: list[str] = field(default_factory=list)


def load_watermark(state_path: Path, endpoint: str) -> datetime | None:
    if not state_path.exists():
        return None
    return parse_time(json.loads(state_path.read_text(encoding="utf-8")).get(endpoint))


def flatten(item: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """One CSV row of an item: nested objects as `parent.child`, lists of values joined by `;`."""
    row: dict[str, str] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            if all(not isinstance(v, dict | list) for v in value):
                row[name] = ";".join(_text(v) for v in value if v is not None)
            else:  # a list of objects has no one right reading: kept whole, for a person to see
                row[name] = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            row[name] = _text(value)
    return row


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a rating of 7.0 is the integer the contract asks for
    return str(value)


def column_for(mapping: SourceMapping, contract_field: str, columns: list[str]) -> str | None:
    """The landed column the mapping turns into `contract_field` (e.g. `id` → response_id)."""
    for column in columns:
        if mapping.rename(column) == contract_field:
            return column
    return None


class _Rows:
    """How rows of one pull are keyed, dated and ordered, through the survey mapping."""

    def __init__(self, mapping: SourceMapping, updated_field: str) -> None:
        self.mapping = mapping
        self.updated_field = updated_field

    def key(self, row: dict[str, str]) -> str:
        column = column_for(self.mapping, "response_id", list(row))
        response_id = row.get(column, "").strip() if column else ""
        # A row without an id cannot be matched: only an identical copy counts as the same.
        return f"id:{response_id}" if response_id else "row:" + json.dumps(row, sort_keys=True)

    def changed_at(self, row: dict[str, str]) -> datetime | None:
        changed = parse_time(row.get(self.updated_field))
        if changed is None:
            column = column_for(self.mapping, "responded_at", list(row))
            changed = parse_time(row.get(column)) if column else None
        return changed

    def order(self, row: dict[str, str]) -> tuple[str, str]:
        changed = self.changed_at(row)
        return (format_time(changed) if changed else "", self.key(row))


def _csv_format(mapping: SourceMapping) -> tuple[str, str]:
    """Delimiter and encoding the survey reader will expect of this data dir's files."""
    delimiter = mapping.delimiter or ","
    first = mapping.encodings[0].lower().replace("_", "-")
    # A byte-order mark wins over the mapping's encoding, so a data dir that reads its survey
    # files as Windows-1252 still reads pulled UTF-8 correctly.
    encoding = "utf-8" if first in ("utf-8", "utf8") else "utf-8-sig"
    return delimiter, encoding


def _read_day_file(path: Path, mapping: SourceMapping) -> tuple[list[str], list[dict[str, str]]]:
    if not path.exists():
        return [], []
    delimiter, _ = _csv_format(mapping)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        rows = [{k: v or "" for k, v in row.items() if k is not None} for row in reader]
        return list(reader.fieldnames or []), rows


def _merged_text(path: Path, new_rows: list[dict[str, str]], rows: _Rows) -> tuple[str, str | None]:
    """The day file's new text (existing rows, each replaced by a newer item), and its old text."""
    header, existing = _read_day_file(path, rows.mapping)
    merged: dict[str, dict[str, str]] = {rows.key(row): row for row in existing}
    for row in new_rows:
        key = rows.key(row)
        old = merged.get(key)
        old_at, new_at = (rows.changed_at(old) if old else None), rows.changed_at(row)
        if old is None or old_at is None or new_at is None or new_at >= old_at:
            merged[key] = row
        for column in row:
            if column not in header:
                header.append(column)
    delimiter, _ = _csv_format(rows.mapping)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(merged.values(), key=rows.order))
    old_text = path.read_text(encoding="utf-8-sig") if path.exists() else None
    return buffer.getvalue(), old_text


def pull_responses(
    client: HappySignalsClient,
    landing_dir: Path,
    state_path: Path,
    mapping: SourceMapping,
    *,
    since: datetime | None = None,
    overlap: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> PullResult:
    """Pull the responses changed since the watermark (or `since` on a first pull)."""
    started = now or datetime.now(UTC)
    endpoint = client.settings.endpoint
    updated_field = client.settings.updated_field
    watermark = load_watermark(state_path, endpoint)
    start = watermark or since
    if start is not None:
        start -= overlap
    rows = _Rows(mapping, updated_field)

    by_day: dict[str, list[dict[str, str]]] = defaultdict(list)
    latest: datetime | None = None
    count = 0
    for item in client.iter_items(start):
        row = flatten(item)
        changed = rows.changed_at(row)
        by_day[(changed or started).date().isoformat()].append(row)
        updated = parse_time(row.get(updated_field))
        if updated is not None:
            latest = max(latest, updated) if latest else updated
        count += 1
    if count and latest is None:
        log.warning(
            "%s: no item carries `%s`, so the watermark cannot move and every pull reads all "
            "responses; set XMO_HAPPYSIGNALS_UPDATED_FIELD to the field that says when a "
            "response changed",
            endpoint,
            updated_field,
        )

    result = PullResult(records=count, days=sorted(by_day))
    _write_day_files(landing_dir, by_day, rows, result)
    if latest is not None:
        # A response that changes while the pull pages may move past pages already read: never
        # start the next pull after this one started.
        latest = min(latest, started)
        watermark = max(watermark, latest) if watermark else latest
    if watermark is not None:
        result.watermark = format_time(watermark)
        state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
        state[endpoint] = result.watermark
        _write_atomically(state_path, json.dumps(state, indent=2, sort_keys=True) + "\n")
    log.info(
        "%s: %s responses since %s into %s day files (%s changed)",
        endpoint,
        count,
        format_time(start) if start else "the beginning",
        len(by_day),
        len(result.files),
    )
    return result


def _write_day_files(
    landing_dir: Path, by_day: dict[str, list[dict[str, str]]], rows: _Rows, result: PullResult
) -> None:
    """Stage every changed day file beside its target, then rename them all into place."""
    _, encoding = _csv_format(rows.mapping)
    staged: list[tuple[Path, Path]] = []
    created: list[Path] = []
    try:
        for day, new_rows in sorted(by_day.items()):
            path = landing_dir / "survey" / day / FILE_NAME
            text, old_text = _merged_text(path, new_rows, rows)
            if text == old_text:
                continue  # nothing new for this day: leave the file (and its mtime) alone
            if not path.parent.exists():
                path.parent.mkdir(parents=True)
                created.append(path.parent)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(text, encoding=encoding, newline="")
            staged.append((temporary, path))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        for folder in created:
            folder.rmdir()
        raise
    for temporary, path in staged:
        os.replace(temporary, path)
        result.files.append(path)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)
