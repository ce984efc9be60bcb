"""Corrupt generated landing files with every kind of bad row the contracts must catch.

Each chosen row gets one defect, taken in turn from the list of its source, so a small fraction
still exercises every kind. CSV rows may also come out ragged (too few fields, or an unquoted
comma that makes one too many), and one survey file is saved as Windows-1252, as Excel on
Windows saves it, with the mapping that reads it. Used by `xmo generate --bad-rows` and the
ingestion tests.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, MutableMapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

# (name, apply): apply corrupts a row and says whether it could (a duplicate needs a previous row)
Defect = tuple[str, Callable[[dict, dict | None], bool]]


def _set(key: str, value: str) -> Callable[[dict, dict | None], bool]:
    def apply(row: dict, previous: dict | None) -> bool:
        row[key] = value
        return True

    return apply


def _duplicate_key(key: str) -> Callable[[dict, dict | None], bool]:
    def apply(row: dict, previous: dict | None) -> bool:
        if previous is None:
            return False
        row[key] = previous[key]
        return True

    return apply


def _resolved_before_opened(row: dict, previous: dict | None) -> bool:
    row["resolved_at"] = "2000-01-01 00:00:00"
    return True


# A row marked with this key is written ragged by _write_csv: its value says how.
RAGGED = "__ragged__"


def _ragged(kind: str) -> Callable[[dict, dict | None], bool]:
    def apply(row: dict, previous: dict | None) -> bool:
        row[RAGGED] = kind
        return True

    return apply


def _drop(key: str) -> Callable[[dict, dict | None], bool]:
    def apply(row: dict, previous: dict | None) -> bool:
        row.pop(key, None)
        return True

    return apply


SURVEY_DEFECTS: list[Defect] = [
    ("happiness out of range", _set("happiness", "11")),
    ("missing respondent", _set("respondent_id", "")),
    ("unparseable timestamp", _set("responded_at", "not-a-date")),
    ("unknown survey type", _set("survey_type", "email")),
    ("future timestamp", _set("responded_at", "2099-01-01T00:00:00Z")),
    ("negative lost time", _set("lost_time_minutes", "-5")),
    ("wrong type", _set("happiness", "very happy")),
    ("duplicate id", _duplicate_key("response_id")),
    ("ragged row: too few fields", _ragged("truncated")),
    ("ragged row: unquoted comma", _ragged("unquoted comma")),
]
ITSM_DEFECTS: list[Defect] = [
    ("unknown priority", _set("priority", "9")),
    ("unparseable timestamp", _set("opened_at", "yesterday")),
    ("resolved before opened", _resolved_before_opened),
    ("missing number", _drop("number")),
    ("unknown table", _set("sys_class_name", "problem")),
    ("negative counter", _set("reassignment_count", "-1")),
]
DEVICE_DEFECTS: list[Defect] = [
    ("battery out of range", _set("battery_health_pct", "150")),
    ("unknown device type", _set("device_type", "tablet")),
    ("future snapshot", _set("snapshot_date", "2099-01-01")),
    ("missing device id", _set("device_id", "")),
    ("negative crash count", _set("app_crashes", "-1")),
    ("wrong type", _set("cpu_saturation_pct", "high")),
    ("duplicate id", _duplicate_key("device_id")),
    ("ragged row: unquoted comma", _ragged("unquoted comma")),
]
DIRECTORY_DEFECTS: list[Defect] = [
    ("not a boolean", _set("vip", "maybe")),
    ("missing employee id", _set("employee_id", "")),
    ("ragged row: too few fields", _ragged("truncated")),
]


def _pick(rng: np.random.Generator, n: int, fraction: float) -> list[int]:
    return [int(i) for i in np.flatnonzero(rng.random(n) < fraction)]


def _corrupt_rows(
    rows: list[dict],
    defects: list[Defect],
    fraction: float,
    rng: np.random.Generator,
    counter: MutableMapping[str, int],
    source: str,
    turn: list[int],
) -> None:
    for i in _pick(rng, len(rows), fraction):
        for _ in range(len(defects)):
            name, apply = defects[turn[0] % len(defects)]
            turn[0] += 1
            if apply(rows[i], rows[i - 1] if i > 0 else None):
                counter[f"{source}: {name}"] += 1
                break


def corrupt_landing(
    landing_dir: Path,
    days: list[date],
    fraction: float,
    rng: np.random.Generator,
    counter: MutableMapping[str, int],
) -> None:
    turns = {"survey": [0], "itsm": [0], "directory": [0], "device": [0]}
    for day in days:
        for path in sorted((landing_dir / "survey" / day.isoformat()).glob("*.csv")):
            _corrupt_csv(path, SURVEY_DEFECTS, fraction, rng, counter, "survey", turns["survey"])
        for path in sorted((landing_dir / "directory" / day.isoformat()).glob("*.csv")):
            _corrupt_csv(
                path, DIRECTORY_DEFECTS, fraction, rng, counter, "directory", turns["directory"]
            )
        for path in sorted((landing_dir / "device" / day.isoformat()).glob("*.parquet")):
            _corrupt_parquet_as_csv(path, fraction, rng, counter, turns["device"])
        for path in sorted((landing_dir / "itsm" / day.isoformat()).glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            _corrupt_rows(
                document["result"], ITSM_DEFECTS, fraction, rng, counter, "itsm", turns["itsm"]
            )
            path.write_text(json.dumps(document), encoding="utf-8")


def _corrupt_parquet_as_csv(
    path: Path,
    fraction: float,
    rng: np.random.Generator,
    counter: MutableMapping[str, int],
    turn: list[int],
) -> None:
    """Typed Parquet cannot carry a wrong type, so a corrupted day arrives as CSV instead."""
    frame = pd.read_parquet(path)
    frame = frame.astype(object).where(frame.notna(), "").astype(str)
    rows = frame.to_dict("records")
    before = turn[0]
    _corrupt_rows(rows, DEVICE_DEFECTS, fraction, rng, counter, "device", turn)
    if turn[0] != before:
        _write_csv(path.with_suffix(".csv"), list(frame.columns), rows)
        path.unlink()


def _corrupt_csv(
    path: Path,
    defects: list[Defect],
    fraction: float,
    rng: np.random.Generator,
    counter: MutableMapping[str, int],
    source: str,
    turn: list[int],
) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = frame.to_dict("records")
    _corrupt_rows(rows, defects, fraction, rng, counter, source, turn)
    _write_csv(path, list(frame.columns), rows)


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """The rows as CSV; a row marked ragged keeps three fields, or gains an unquoted comma."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [str(row.get(c, "")) for c in columns]
        kind = row.get(RAGGED)
        if kind == "truncated":
            writer.writerow(cells[:3])
        elif kind == "unquoted comma":
            # A text field written by hand without quotes: its comma splits it in two.
            buffer.write(",".join(c.replace(",", " ") for c in cells[:-1]) + ",ok, thanks\n")
        else:
            writer.writerow(cells)
    path.write_text(buffer.getvalue(), encoding="utf-8")


# The comment a Windows-1252 file carries, outside ASCII as Finnish and German comments are.
WINDOWS_1252_COMMENT = "hyvä työ, schön – kiitos"


def save_one_survey_as_windows_1252(landing_dir: Path, days: list[date]) -> Path | None:
    """Re-save the middle day's survey file as Excel on Windows would (Windows-1252, CRLF),
    with non-ASCII comments; the file the mapping's `encoding: [utf-8, cp1252]` reads."""
    files = [
        path
        for day in days
        for path in sorted((landing_dir / "survey" / day.isoformat()).glob("*.csv"))
        if path.read_text(encoding="utf-8").count("\n") > 1  # answers, not a header alone
    ]
    if not files:
        return None
    path = files[len(files) // 2]
    # The csv module, not pandas: the file may already hold a ragged row, which must stay one.
    header, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    comment = header.index("comment")
    whole = [row for row in rows if len(row) == len(header)]
    for row in whole[: max(1, len(whole) // 4)]:
        row[comment] = WINDOWS_1252_COMMENT
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode("cp1252"))
    return path
