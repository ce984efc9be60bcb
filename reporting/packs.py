"""Write a session pack file from the published marts, replacing any earlier version atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingestion.declared_sources import ALL_SOURCES
from reporting.marts import PublishedMarts
from reporting.monthly import build_monthly
from reporting.periods import Period, last_complete_month, last_complete_week
from reporting.weekly import build_weekly


@dataclass(frozen=True)
class WrittenPack:
    path: Path
    period: Period
    summary: dict


def _write_atomically(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)  # a reader opening the pack never sees half a file


def write_weekly_pack(
    reporting_path: Path,
    reports_dir: Path,
    week: Period | None = None,
    sources: Iterable[str] = ALL_SOURCES,
    unmapped_share_max: float | None = None,
) -> WrittenPack:
    """The pack of `week`, by default the last complete week of the published data, for an
    organisation delivering `sources` (and warning above `unmapped_share_max` unmapped)."""
    with PublishedMarts(reporting_path) as marts:
        week = week or last_complete_week(marts.data_through())
        pack = build_weekly(marts, week, sources, unmapped_share_max)
    path = reports_dir / "weekly" / f"xmo_weekly_{week.label}.html"
    _write_atomically(path, pack.html)
    summary = {
        "services_in_scope": len(pack.services),
        "response_rate_warnings": pack.warnings,
        "happiness": {sid: s["happiness_score"] for sid, s in pack.services.items()},
    }
    return WrittenPack(path, week, summary)


def write_monthly_pack(
    reporting_path: Path,
    reports_dir: Path,
    month: Period | None = None,
    sources: Iterable[str] = ALL_SOURCES,
) -> WrittenPack:
    """The pack of `month`, by default the last complete month of the published data, for an
    organisation delivering `sources`."""
    with PublishedMarts(reporting_path) as marts:
        month = month or last_complete_month(marts.data_through())
        pack = build_monthly(marts, month, sources)
    path = reports_dir / "monthly" / f"xmo_monthly_{month.label}.html"
    _write_atomically(path, pack.html)
    statuses = [status for by_service in pack.statuses.values() for status in by_service.values()]
    summary = {
        "services_in_scope": len(pack.statuses),
        "new_services": pack.new_services,
        "status_counts": {s: statuses.count(s) for s in sorted(set(statuses))},
    }
    return WrittenPack(path, month, summary)
