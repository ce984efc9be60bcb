"""What every gate shares: the run's context, one read-only connection, GX's verdict on counts."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ingestion.declared_sources import ALL_SOURCES
from quality.config import GateConfig
from quality.rules import Rule, UniqueKey, quoted
from quality.validation import (
    FailedExpectation,
    ValidationOutcome,
    expect_between,
    plain_value,
    validate_frame,
)

SAMPLE_SIZE = 5


class Warehouse:
    """A read-only connection to the database the gates judge, opened on first use.

    One per step of gates: opening the file costs tens of milliseconds at scale, and a step
    asks a dozen small questions. Read-only, so a gate never takes the writer's lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: duckdb.DuckDBPyConnection | None = None

    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb.connect(str(self.path), read_only=True)
        return self._connection

    def frame(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        return self._con().execute(sql, list(params)).df()

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self._con().execute(sql, list(params)).fetchall()

    def values(self, sql: str, params: Sequence[object] = ()) -> list:
        """The first column of every row."""
        return [row[0] for row in self.rows(sql, params)]

    def scalar(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self.rows(sql, params)[0][0]

    def columns(self, relation: str) -> dict[str, str]:
        """Each column's DuckDB type, in the table's order."""
        return {name: kind for name, kind, *_ in self.rows(f"DESCRIBE SELECT * FROM {relation}")}

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class GateContext:
    # The database the gates read: the DuckDB warehouse, or on Spark its catalog of views.
    database_path: Path
    quality_dir: Path
    run_date: date  # the run's last partition: freshness is judged against it
    partitions: tuple[date, ...]  # the run's partitions (raw gates)
    config: GateConfig
    # The sources the organisation declares: a gate never fails for the absence of another.
    sources: tuple[str, ...] = ALL_SOURCES
    db: Warehouse = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "db", Warehouse(self.database_path))

    @property
    def history_dir(self) -> Path:
        return self.quality_dir / "history"

    @property
    def window(self) -> list[date]:
        return [min(self.partitions), max(self.partitions)]

    def not_declared(self, sources: Iterable[str]) -> list[str]:
        """Those of `sources` the organisation does not declare, in a stable order."""
        return sorted(set(sources) - set(self.sources))


@dataclass
class GateOutcome:
    """What one gate found; `skipped` says why there was nothing to judge."""

    gate: str
    validations: list[ValidationOutcome] = field(default_factory=list)
    skipped: str | None = None
    notes: dict[str, object] = field(default_factory=dict)
    # One line for a person: why a gate was not judged, or what its failure means.
    summary: str | None = None

    @property
    def description(self) -> str | None:
        return self.summary or self.skipped

    @property
    def failures(self) -> list[FailedExpectation]:
        return [f for v in self.validations for f in v.failures]

    @property
    def evaluated(self) -> int:
        return sum(v.evaluated for v in self.validations)

    @property
    def passed(self) -> bool:
        if self.skipped is not None:
            return True
        return bool(self.validations) and all(v.success for v in self.validations)

    @property
    def docs_pages(self) -> list[Path]:
        return [v.docs_page for v in self.validations if v.docs_page is not None]


def validate(
    ctx: GateContext, frame: pd.DataFrame, gate: str, expectations: list
) -> ValidationOutcome:
    """GX's verdict on `frame`, stored under the quality dir with its Data Docs page."""
    return validate_frame(frame, gate, expectations, ctx.quality_dir)


Checked = Rule | UniqueKey


def _count_sql(check: Checked) -> str:
    if isinstance(check, UniqueKey):
        return check.count_sql
    return f"count(*) FILTER (WHERE {check.violation_sql})"


def count_violations(
    ctx: GateContext,
    relation: str,
    checks: Sequence[Checked],
    by: str | None = None,
    where: str = "TRUE",
    params: Sequence[object] = (),
) -> pd.DataFrame:
    """Rows breaking each check, in one scan: a long frame (by?, rule, violations).

    With `by`, the counts are per value of that column (a raw table's extract date).
    """
    counts = [f"{_count_sql(c)} AS {quoted(c.label)}" for c in checks]
    group = f"{quoted(by)}, " if by else ""
    wide = ctx.db.frame(
        f"SELECT {group}{', '.join(counts) or '0 AS no_rule'} FROM {relation} WHERE {where}"
        + (" GROUP BY 1 ORDER BY 1" if by else ""),
        params,
    )
    if not checks:
        return pd.DataFrame(columns=[*([by] if by else []), "rule", "violations"])
    long = wide.melt(id_vars=[by] if by else [], var_name="rule", value_name="violations")
    long["violations"] = long["violations"].astype("int64")
    return long


def missing_columns(present: Sequence[str], wanted: Sequence[str]) -> pd.DataFrame:
    """One row per wanted column: 1 violation when the table lacks it."""
    have = set(present)
    return pd.DataFrame(
        {
            "rule": [f"{c}__missing_column" for c in wanted],
            "violations": [0 if c in have else 1 for c in wanted],
        }
    )


def judge_violations(
    ctx: GateContext,
    gate: str,
    counts: pd.DataFrame,
    checks: Sequence[Checked],
    sample: Callable[[Checked], list],
) -> ValidationOutcome:
    """GX judges the counts (every one must be 0); a failure names each broken rule.

    The evidence of a broken rule is its total over the frame and a sample of offending values
    (`sample` asks the database); a missing column is its own failure.
    """
    checked = validate(ctx, counts, gate, [expect_between("violations", max_value=0)])
    if checked.success or any(f.error for f in checked.failures):
        return checked
    by_label = {c.label: c for c in checks}
    totals = counts.groupby("rule", sort=False)["violations"].sum()
    evidence = []
    for label, broken in totals.items():
        if broken <= 0:
            continue
        check = by_label.get(str(label))
        if check is None:  # a missing column
            column = str(label).removesuffix("__missing_column")
            evidence.append(FailedExpectation("column exists", column, None, []))
            continue
        values = [plain_value(v) for v in sample(check)][:SAMPLE_SIZE]
        evidence.append(FailedExpectation(check.expectation, check.column, int(broken), values))
    return ValidationOutcome(
        checked.suite,
        checked.rows,
        checked.evaluated,
        evidence or checked.failures,
        checked.docs_page,
    )


# What a sample shows in place of a personal value (an employee id, a comment).
WITHHELD = "(personal data, withheld)"


def sample_sql(
    check: Checked,
    relation: str,
    where: str = "TRUE",
    by: str | None = None,
    personal: Collection[str] = (),
) -> str:
    """A few offending values of a check (the duplicated keys of a key, per value of `by` when
    the key must be unique per extract). Evidence goes to the Dagster UI and the Data Docs,
    which hold no personal data: a value of a `personal` column is withheld."""

    withheld = f"'{WITHHELD}'"

    def shown_value(column: str) -> str:
        return withheld if column in personal else f"CAST({quoted(column)} AS VARCHAR)"

    if isinstance(check, UniqueKey):
        keys = ", ".join(quoted(c) for c in (*check.columns, *([by] if by else [])))
        shown = ", ".join(shown_value(c) for c in check.columns)
        return (
            f"SELECT concat_ws(', ', {shown}) AS v FROM {relation} "
            f"WHERE ({where}) AND {check.present_sql} "
            f"GROUP BY {keys} HAVING count(*) > 1 ORDER BY 1 LIMIT {SAMPLE_SIZE}"
        )
    # A single column keeps its type: a range sample reads [150.0], not ['150.0'].
    shown = withheld if check.column in personal else quoted(check.column)
    return (
        f"SELECT DISTINCT {shown} AS v FROM {relation} "
        f"WHERE ({where}) AND ({check.violation_sql}) ORDER BY 1 LIMIT {SAMPLE_SIZE}"
    )


def not_configured(gate: str, sources: Sequence[str], consequence: str) -> GateOutcome:
    """The verdict of a gate whose table needs a source the organisation does not declare: said,
    with the reason, never failed (ingestion/declared_sources.py)."""
    return GateOutcome(
        gate,
        skipped=f"{', '.join(sources)}: not configured (XMO_SOURCES / sources.yml) — {consequence}",
        notes={"not_configured": list(sources)},
    )
