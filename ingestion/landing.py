"""Is an extract date's landing folder complete? (what the landing sensor asks each tick).

A date is complete when every daily source the organisation declares has delivered readable
files for it, and either
each of those folders holds a `_SUCCESS` marker (the convention of Hadoop/Spark writers and
most export tools) or nothing in them has changed for a settle period, so a copy still in
progress is not loaded half-way. The directory snapshot is not daily (it comes weekly), so it
never holds a date back, and neither does a source the organisation does not declare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.declared_sources import ALL_SOURCES, DAILY_SOURCES
from ingestion.loader import extract_dates, landing_folder
from ingestion.sources import SOURCES

SUCCESS_MARKER = "_SUCCESS"


@dataclass(frozen=True)
class LandingStatus:
    extract_date: date
    complete: bool
    # Names, sizes and modification times of every file: changes when a day is re-delivered.
    fingerprint: str
    files: int
    missing_sources: tuple[str, ...]
    settling_sources: tuple[str, ...]

    @property
    def reason(self) -> str:
        if self.complete:
            return f"{self.files} files from every declared daily source"
        parts = []
        if self.missing_sources:
            parts.append("no files yet from " + ", ".join(self.missing_sources))
        if self.settling_sources:
            parts.append("still being written: " + ", ".join(self.settling_sources))
        return "; ".join(parts)


def landing_status(
    landing_dir: Path,
    extract_date: date,
    now: float,
    settle_seconds: float,
    sources: Iterable[str] = ALL_SOURCES,
) -> LandingStatus:
    """The completeness of one extract date at time `now` (seconds since the epoch), over the
    organisation's declared `sources`: files of the others change nothing, not even the
    fingerprint, since they are never loaded."""
    declared = set(sources)
    required = [name for name in DAILY_SOURCES if name in declared]
    digest = hashlib.sha256()
    files = 0
    missing: list[str] = []
    settling: list[str] = []
    for name, source in SOURCES.items():
        if name not in declared:
            continue
        folder = landing_folder(landing_dir, name, extract_date)
        readable = source.files_in(folder)
        for path in readable:
            stat = path.stat()
            digest.update(f"{name}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        files += len(readable)
        if name not in required:
            continue
        if not readable:
            missing.append(name)
        elif not (folder / SUCCESS_MARKER).exists():
            newest = max(path.stat().st_mtime for path in readable)
            if now - newest < settle_seconds:
                settling.append(name)
    return LandingStatus(
        extract_date=extract_date,
        complete=not missing and not settling,
        fingerprint=digest.hexdigest()[:16],
        files=files,
        missing_sources=tuple(missing),
        settling_sources=tuple(settling),
    )


def recent_extract_dates(
    landing_dir: Path, newest_first: int, sources: Iterable[str] = ALL_SOURCES
) -> list[date]:
    """The latest `newest_first` extract dates that have a landing folder of any of `sources`,
    oldest first."""
    dates = extract_dates(landing_dir, sources)
    return dates[-newest_first:] if newest_first > 0 else []
