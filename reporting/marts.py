"""Read-only access to the published reporting database: the packs read nothing else."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from quality.specs import NEWEST_RESOLVED_WEEK_SQL, UNMAPPED_IN_WEEK_SQL


class ReportError(Exception):
    """A pack that cannot be written (nothing published, a period without data)."""


class PublishedMarts:
    def __init__(self, reporting_path: Path) -> None:
        if not reporting_path.exists():
            raise ReportError(f"nothing published yet at {reporting_path}; run `xmo run` first")
        self.path = reporting_path
        self._con = duckdb.connect(str(reporting_path), read_only=True)

    def __enter__(self) -> PublishedMarts:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self._con.execute(sql, params or []).df()

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        return self._con.execute(sql, params or []).fetchall()[0][0]

    def newest_resolved_week(self) -> date | None:
        """The Monday of the newest week with a resolved ticket."""
        return self.value(NEWEST_RESOLVED_WEEK_SQL)

    def unmapped_in_week(self, week_start: date) -> tuple[int, int]:
        """The tickets resolved in the week, and how many no mapping rule gave a service."""
        resolved, unmapped = self._con.execute(
            UNMAPPED_IN_WEEK_SQL, [week_start, week_start]
        ).fetchall()[0]
        return int(resolved), int(unmapped)

    def data_through(self) -> date:
        """The last day the published data covers: the latest ticket resolution."""
        day = self.value("SELECT max(CAST(resolved_at AS DATE)) FROM marts.fct_ticket_experience")
        if day is None:
            raise ReportError("the published marts hold no resolved tickets yet")
        return day
