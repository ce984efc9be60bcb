"""Report periods: ISO weeks (YYYY-Www) and calendar months (YYYY-MM)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta


class PeriodError(ValueError):
    """A period a person typed that is not a week or month; the message says the format."""


@dataclass(frozen=True)
class Period:
    kind: str  # "week" | "month"
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def title(self) -> str:
        if self.kind == "week":
            return f"week {self.label} ({self.start:%d %b} – {self.end:%d %b %Y})"
        return f"{self.start:%B %Y}"

    def previous(self, count: int = 1) -> Period:
        if self.kind == "week":
            return week_of(self.start - timedelta(weeks=count))
        month = self.start
        for _ in range(count):
            month = (month - timedelta(days=1)).replace(day=1)
        return month_of(month)


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period("week", monday, monday + timedelta(days=6))


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period("month", first, following - timedelta(days=1))


def parse_week(text: str) -> Period:
    match = re.fullmatch(r"(\d{4})-W(\d{2})", text.strip())
    if not match:
        raise PeriodError(f"not an ISO week (YYYY-Www, e.g. 2026-W07): {text!r}")
    try:
        return week_of(date.fromisocalendar(int(match[1]), int(match[2]), 1))
    except ValueError:
        raise PeriodError(f"no such ISO week: {text!r}") from None


def parse_month(text: str) -> Period:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise PeriodError(f"not a month (YYYY-MM, e.g. 2026-03): {text!r}")
    return month_of(date(int(match[1]), int(match[2]), 1))


def last_complete_week(data_through: date) -> Period:
    """The latest ISO week that ends on or before the last day the data covers."""
    return week_of(data_through - timedelta(days=(data_through.weekday() + 1) % 7))


def last_complete_month(data_through: date) -> Period:
    following = data_through + timedelta(days=1)
    return month_of(following.replace(day=1) - timedelta(days=1))
