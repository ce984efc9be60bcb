"""Experience-drop alerts: a service whose week got significantly worse is said once, with a link.

An alert is a row of `marts.experience_changes` for the newest complete week of the data (the
week the weekly pack shows by default) with `is_significant` and `direction = 'worse'`. A
service's indicator is one alert, whichever reference windows it is worse than: the headline
compares with the previous 4 weeks, what people remember, and the baseline is named beside it.

Once only: a ledger under alerts/ holds the service × week × indicator keys already raised, so
a re-run (every daily run, a backfill) neither repeats the line in the log nor posts again.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from reporting.marts import PublishedMarts, ReportError
from reporting.notify import append_line, post_json
from reporting.periods import Period, last_complete_week

INDICATORS = {"happiness_score": "happiness score", "avg_lost_time_minutes": "avg lost time"}
# Headline first: a drop against the last month is the news; against the baseline, its context.
REFERENCES = {"previous_4_weeks": "previous 4 weeks", "baseline": "baseline"}

_WORSE_CHANGES = """
SELECT
    c.service_id, coalesce(s.service_name, c.service_id) AS service_name, c.indicator,
    c.reference_kind, c.reference_start, c.reference_end, c.n, c.reference_n,
    c.value, c.value_ci_low, c.value_ci_high,
    c.reference_value, c.reference_ci_low, c.reference_ci_high,
    c.delta, c.p_value, c.q_value
FROM marts.experience_changes AS c
LEFT JOIN marts.dim_service AS s ON s.service_id = c.service_id
WHERE c.week_start = ? AND c.is_significant AND c.direction = 'worse'
ORDER BY c.service_id, c.indicator
"""


@dataclass(frozen=True)
class Change:
    """One significant worsening of a week against one reference window."""

    reference_kind: str
    reference_start: date | None
    reference_end: date | None
    n: int | None
    reference_n: int | None
    value: float | None
    value_ci_low: float | None
    value_ci_high: float | None
    reference_value: float | None
    reference_ci_low: float | None
    reference_ci_high: float | None
    delta: float | None
    p_value: float | None
    q_value: float | None


@dataclass(frozen=True)
class ExperienceDrop:
    """A service's indicator that got significantly worse in a week: one alert."""

    service_id: str
    service_name: str
    week: Period
    indicator: str
    changes: tuple[Change, ...]  # headline first (REFERENCES order)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service_id, self.week.start.isoformat(), self.indicator)

    def describe(self) -> str:
        """The alert in one line, without its link."""
        head, *others = self.changes
        service = (
            self.service_id
            if self.service_name == self.service_id
            else f"{self.service_name} ({self.service_id})"
        )
        also = "".join(
            f"; also worse than {_reference_label(c)} {_figure(self.indicator, c.reference_value)}"
            f", {_q(c.q_value)}"
            for c in others
        )
        before = (head.reference_value, head.reference_ci_low, head.reference_ci_high)
        now = (head.value, head.value_ci_low, head.value_ci_high)
        return (
            f"Experience drop: {service} {INDICATORS.get(self.indicator, self.indicator)} "
            f"{_with_interval(self.indicator, *before)} → {_with_interval(self.indicator, *now)}"
            f" vs {_reference_label(head)}, week {self.week.label} ({_q(head.q_value)}{also})"
        )

    def body(self, link: str) -> dict[str, Any]:
        """The webhook's JSON: `text` for chat tools, the figures for anything else."""
        return {
            "text": f"{self.describe()}: {link}",
            "service_id": self.service_id,
            "service_name": self.service_name,
            "week": self.week.label,
            "week_start": self.week.start.isoformat(),
            "indicator": self.indicator,
            "link": link,
            "changes": [
                {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(c).items()}
                for c in self.changes
            ],
        }


def _reference_label(change: Change) -> str:
    return REFERENCES.get(change.reference_kind, change.reference_kind)


def _figure(indicator: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if indicator == "happiness_score":
        return f"{value:+.0f}"
    if indicator == "avg_lost_time_minutes":
        return f"{value:.1f} min"
    return f"{value:.2f}"


def _with_interval(
    indicator: str, value: float | None, low: float | None, high: float | None
) -> str:
    if low is None or high is None:
        return _figure(indicator, value)
    digits = 0 if indicator == "happiness_score" else 1
    return f"{_figure(indicator, value)} ({low:.{digits}f} … {high:.{digits}f})"


def _q(q_value: float | None) -> str:
    if q_value is None:
        return "q n/a"
    return "q < 0.001" if q_value < 0.001 else f"q = {q_value:.2g}"


def _python(value: Any) -> Any:
    """A dataframe cell as a plain Python value: NULL → None, DuckDB dates → date."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.date()
    return value.item() if hasattr(value, "item") else value


def find_drops(
    marts: PublishedMarts, week: Period | None = None
) -> tuple[Period, list[ExperienceDrop]]:
    """The significant worsenings of `week`, by default the newest complete week of the data.

    `marts` is any database with the marts schema: the published one, or the working
    warehouse when a check looks before publication.
    """
    week = week or last_complete_week(marts.data_through())
    try:
        frame = marts.frame(_WORSE_CHANGES, [week.start])
    except duckdb.CatalogException as exc:
        first_line = str(exc).splitlines()[0]
        raise ReportError(
            f"cannot read marts.experience_changes in {marts.path}: {first_line}"
        ) from None
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        row = {name: _python(value) for name, value in record.items()}
        grouped.setdefault((row["service_id"], row["indicator"]), []).append(row)
    order = {kind: rank for rank, kind in enumerate(REFERENCES)}
    drops = []
    for (service_id, indicator), rows in grouped.items():
        rows.sort(key=lambda r: order.get(r["reference_kind"], len(order)))
        changes = tuple(Change(**{f: r[f] for f in Change.__dataclass_fields__}) for r in rows)
        drops.append(ExperienceDrop(service_id, rows[0]["service_name"], week, indicator, changes))
    return week, drops


def weekly_pack_link(week: Period, reports_dir: Path, reports_url: str | None) -> str:
    """Where the weekly pack of `week` is read: under the served reports URL, else on disk."""
    relative = f"weekly/xmo_weekly_{week.label}.html"  # the file reporting/packs.py writes
    if reports_url:
        return f"{reports_url.rstrip('/')}/{relative}"
    return (reports_dir.absolute() / relative).as_uri()


@dataclass(frozen=True)
class AlertTargets:
    """Where alerts go: the log and ledger files, the webhook, and what links point at."""

    log_path: Path
    ledger_path: Path
    webhook: str | None
    reports_dir: Path
    reports_url: str | None = None


@dataclass
class AlertOutcome:
    week: Period
    sent: list[str] = field(default_factory=list)  # the new alerts' lines, in order
    posted: int = 0  # webhook posts that went through, earlier failed ones included
    problems: list[str] = field(default_factory=list)


def send_experience_alerts(reporting_path: Path, targets: AlertTargets) -> AlertOutcome:
    """Raise each new drop of the newest complete week of the published marts, once.

    A new drop is written to the log and recorded in the ledger at once, so a re-run never
    writes its line again. Its webhook post is tracked apart: a post that fails is reported in
    `problems` and stays pending in the ledger, and later runs retry it until it goes through —
    a chat outage must not swallow the one message people act on. A drop raised while no
    webhook was set is not posted later: a webhook configured months on would otherwise flood
    its channel with old weeks.
    """
    with PublishedMarts(reporting_path) as marts:
        week, drops = find_drops(marts)
    outcome = AlertOutcome(week)
    with _locked(targets.ledger_path):  # two runs of a backfill must not both raise a drop
        ledger = _read_ledger(targets.ledger_path)
        for drop in drops:
            if drop.key in ledger:
                continue
            body = drop.body(weekly_pack_link(week, targets.reports_dir, targets.reports_url))
            append_line(targets.log_path, body["text"])
            ledger[drop.key] = {
                "logged_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "posted": False if targets.webhook else None,
                "body": body,
            }
            _write_ledger(targets.ledger_path, ledger)
            outcome.sent.append(body["text"])
        if targets.webhook:
            for key, entry in ledger.items():
                if entry["posted"] is not False:
                    continue
                problems = post_json(targets.webhook, entry["body"])
                if problems:
                    outcome.problems += [f"{' '.join(key)}: {p}" for p in problems]
                    continue
                entry["posted"] = True
                outcome.posted += 1
                _write_ledger(targets.ledger_path, ledger)
    return outcome


@contextmanager
def _locked(ledger_path: Path) -> Iterator[None]:
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    with ledger_path.with_name(ledger_path.name + ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_ledger(path: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["alerts"]
        return {
            (e["service_id"], e["week_start"], e["indicator"]): {
                k: v for k, v in e.items() if k not in ("service_id", "week_start", "indicator")
            }
            for e in entries
        }
    except (ValueError, KeyError, TypeError) as exc:
        # Starting afresh would raise every drop again; a person has to look at the file.
        raise ReportError(f"alert ledger {path} is unreadable ({exc}); fix or move it") from None


def _write_ledger(path: Path, ledger: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    entries = [
        {"service_id": s, "week_start": w, "indicator": i, **entry}
        for (s, w, i), entry in ledger.items()
    ]
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"alerts": entries}, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)  # a crash mid-write leaves the previous ledger whole
