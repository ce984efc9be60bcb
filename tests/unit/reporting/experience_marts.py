"""Hand-built marts for the experience-drop alerts, and a webhook that records what it is sent.

`write_marts` writes a DuckDB file with the columns the contract of `marts.experience_changes`
names, plus the `dim_service` and `fct_ticket_experience` columns the alerts read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from tests.fakes.local_server import JsonHandler, LocalServer

# Data through Sunday 17 May 2026: the newest complete week is 2026-W20 (Monday 11 May).
DATA_THROUGH = date(2026, 5, 17)
WEEK = date(2026, 5, 11)
WEEK_LABEL = "2026-W20"
SERVICES = {"SVC04": "Network and VPN", "SVC07": "Laptops", "SVC09": "Email"}

COLUMNS = {
    "service_id": "VARCHAR",
    "week_start": "DATE",
    "indicator": "VARCHAR",
    "reference_kind": "VARCHAR",
    "reference_start": "DATE",
    "reference_end": "DATE",
    "n": "BIGINT",
    "reference_n": "BIGINT",
    "value": "DOUBLE",
    "value_ci_low": "DOUBLE",
    "value_ci_high": "DOUBLE",
    "reference_value": "DOUBLE",
    "reference_ci_low": "DOUBLE",
    "reference_ci_high": "DOUBLE",
    "delta": "DOUBLE",
    "z": "DOUBLE",
    "p_value": "DOUBLE",
    "q_value": "DOUBLE",
    "is_significant": "BOOLEAN",
    "direction": "VARCHAR",
    "minimum_detectable_change": "DOUBLE",
}


def change(
    service_id: str = "SVC04",
    indicator: str = "happiness_score",
    reference_kind: str = "previous_4_weeks",
    week_start: date = WEEK,
    *,
    significant: bool = True,
    direction: str | None = "worse",
    value: float = 31.0,
    reference_value: float = 62.0,
    q_value: float = 0.001,
) -> dict[str, Any]:
    """One row of marts.experience_changes; by default a significant drop of 2026-W20."""
    if reference_kind == "previous_4_weeks":
        reference_start, reference_end = week_start - timedelta(weeks=4), week_start - timedelta(1)
    else:
        reference_start, reference_end = date(2026, 1, 5), date(2026, 3, 29)
    return {
        "service_id": service_id,
        "week_start": week_start,
        "indicator": indicator,
        "reference_kind": reference_kind,
        "reference_start": reference_start,
        "reference_end": reference_end,
        "n": 40,
        "reference_n": 160,
        "value": value,
        "value_ci_low": value - 9,
        "value_ci_high": value + 9,
        "reference_value": reference_value,
        "reference_ci_low": reference_value - 7,
        "reference_ci_high": reference_value + 7,
        "delta": value - reference_value,
        "z": -3.4,
        "p_value": q_value / 10,
        "q_value": q_value,
        "is_significant": significant,
        "direction": direction,
        "minimum_detectable_change": 12.0,
    }


def write_marts(path: Path, changes: list[dict[str, Any]], data_through: date = DATA_THROUGH):
    """A marts schema as the reporting database (or the working warehouse) holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.dim_service (service_id VARCHAR, service_name VARCHAR)")
        con.executemany("INSERT INTO marts.dim_service VALUES (?, ?)", list(SERVICES.items()))
        con.execute("CREATE TABLE marts.fct_ticket_experience (resolved_at TIMESTAMP)")
        con.execute("INSERT INTO marts.fct_ticket_experience VALUES (?)", [data_through])
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        con.execute(f"CREATE TABLE marts.experience_changes ({columns})")
        if changes:
            marks = ", ".join("?" for _ in COLUMNS)
            con.executemany(
                f"INSERT INTO marts.experience_changes VALUES ({marks})",
                [[row[name] for name in COLUMNS] for row in changes],
            )
    finally:
        con.close()


@dataclass
class FakeWebhook(LocalServer):
    """An incoming-webhook stand-in on 127.0.0.1: keeps every JSON body, answers `status`."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                fake.received.append(json.loads(self.rfile.read(length)))
                self._send(fake.status, None)

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"{self.root}/hooks/xmo"
