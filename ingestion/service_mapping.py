"""A starting point for an organisation's service mapping rules, drafted from its own tickets.

Many ServiceNow instances leave the business service empty, and an XMO then defines its
services by the teams that work the tickets or the categories they are filed under. The draft
lists the business services, assignment groups and categories of the tickets opened in the
last days of the warehouse, each with its ticket count and share, most frequent first and an
empty service_id: filling in the top rows covers most tickets (docs/sources.md, "Mapping
tickets to services").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

# In the order their rules are drafted: a business service says the service outright, the team
# that worked a ticket usually does, a category least precisely.
DRAFT_FIELDS = ("business_service", "assignment_group", "category")
RULE_COLUMNS = ("precedence", "field", "ticket_type", "value", "service_id")
TICKETS = "staging.stg_itsm__tickets"


class NoTicketsError(Exception):
    """The warehouse holds no tickets to draft rules from; the message says what to run."""


@dataclass(frozen=True)
class DraftRule:
    precedence: int
    field: str
    value: str
    tickets: int
    share: float


@dataclass
class Draft:
    first_opened: datetime
    last_opened: datetime
    tickets: int
    rules: list[DraftRule] = field(default_factory=list)

    def coverage(self, field_name: str, top: int) -> float:
        """The share of the window's tickets the `top` most frequent values of a field hold."""
        rows = [r for r in self.rules if r.field == field_name][:top]
        return sum(r.tickets for r in rows) / self.tickets if self.tickets else 0.0


def draft_rules(database: Path, days: int = 90) -> Draft:
    """The draft over the tickets opened in the `days` before the newest one."""
    if not database.exists():
        raise NoTicketsError(
            f"no warehouse at {database} yet; load the ticket extracts first (xmo run --all)"
        )
    con = duckdb.connect(str(database), read_only=True)
    try:
        try:
            newest, opened = con.execute(
                f"SELECT max(opened_at), count(*) FROM {TICKETS}"
            ).fetchall()[0]
        except duckdb.CatalogException:
            newest, opened = None, 0
        if not opened or newest is None:
            raise NoTicketsError(
                f"no tickets in {database} yet; load the ticket extracts first (xmo run --all)"
            )
        start = newest - timedelta(days=days)
        window = "opened_at > ?"
        total = con.execute(f"SELECT count(*) FROM {TICKETS} WHERE {window}", [start]).fetchall()
        draft = Draft(start, newest, int(total[0][0]))
        precedence = 0
        for name in DRAFT_FIELDS:
            # Values that differ only in case or spacing are one value; the spelling shown is
            # the most frequent one.
            values = con.execute(
                f"""SELECT mode(trim({name})), count(*) AS tickets
                FROM {TICKETS}
                WHERE {window} AND nullif(trim({name}), '') IS NOT NULL
                GROUP BY regexp_replace(lower(trim({name})), '\\s+', ' ', 'g')
                ORDER BY tickets DESC, 1""",
                [start],
            ).fetchall()
            for value, tickets in values:
                precedence += 10
                draft.rules.append(
                    DraftRule(precedence, name, value, int(tickets), tickets / draft.tickets)
                )
        return draft
    finally:
        con.close()


def write_draft(draft: Draft, path: Path) -> Path:
    """The draft as a mapping-rules CSV with an empty service_id and each value's volume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*RULE_COLUMNS, "tickets", "share"])
        for rule in draft.rules:
            writer.writerow(
                [rule.precedence, rule.field, "", rule.value, "", rule.tickets, f"{rule.share:.4f}"]
            )
    return path
