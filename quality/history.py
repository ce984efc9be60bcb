"""Row counts of earlier validated runs, for the volume gates (one small JSON file per table)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def _path(history_dir: Path, table: str) -> Path:
    return history_dir / f"{table}.json"


def read_history(history_dir: Path, table: str) -> dict[str, int]:
    """{run or partition key: rows} of the validations that passed."""
    path = _path(history_dir, table)
    return json.loads(path.read_text()) if path.exists() else {}


def record(history_dir: Path, table: str, counts: dict[str, int], keep: int = 400) -> None:
    history = {**read_history(history_dir, table), **counts}
    kept = dict(sorted(history.items())[-keep:])
    history_dir.mkdir(parents=True, exist_ok=True)
    staged = _path(history_dir, table).with_suffix(".tmp")
    staged.write_text(json.dumps(kept, indent=1, sort_keys=True))
    os.replace(staged, _path(history_dir, table))
