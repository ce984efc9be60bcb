"""Do two computations of a mart agree? Same keys, and every value equal within a tolerance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

# The core marts the floor and the pandas script compute: key columns, then compared values.
CORE_MARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "service_experience_weekly": (
        ("service_id", "week_start"),
        (
            "responses",
            "happiness_score",
            "avg_lost_time_minutes",
            "total_lost_hours",
            "tickets_resolved",
            "response_rate",
            "mttr_hours",
            "sla_attainment",
            "reopen_rate",
            "tickets_canceled",
            "low_sample",
        ),
    ),
    "device_experience_weekly": (
        ("department", "model", "week_start"),
        (
            "devices",
            "device_days",
            "dex_score",
            "boot_score",
            "logon_score",
            "app_stability_score",
            "system_stability_score",
            "cpu_score",
            "memory_score",
            "disk_score",
            "battery_score",
            "low_sample",
        ),
    ),
}

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Comparison:
    mart: str
    rows: int
    only_in_expected: int
    only_in_actual: int
    different_values: dict[str, int]

    @property
    def equal(self) -> bool:
        return not (
            self.only_in_expected or self.only_in_actual or any(self.different_values.values())
        )

    def describe(self) -> str:
        if self.equal:
            return f"{self.mart}: {self.rows:,} rows, all equal"
        differing = {c: n for c, n in self.different_values.items() if n}
        return (
            f"{self.mart}: {self.only_in_expected} rows missing, {self.only_in_actual} extra, "
            f"values differ in {differing}"
        )


def compare_mart(mart: str, expected: Path, actual: Path) -> Comparison:
    """Compare two Parquet files of `mart` (expected = the published mart)."""
    keys, values = CORE_MARTS[mart]
    on = " AND ".join(f"e.{k} IS NOT DISTINCT FROM a.{k}" for k in keys)

    def differs(column: str) -> str:
        e, a = f"e.{column}", f"a.{column}"
        return (
            f"count(*) FILTER (e.{keys[0]} IS NOT NULL AND a.{keys[0]} IS NOT NULL AND ("
            f"({e} IS NULL) <> ({a} IS NULL) OR abs({e}::DOUBLE - {a}::DOUBLE) > "
            f"{TOLERANCE} * greatest(1.0, abs({e}::DOUBLE))))"
        )

    with duckdb.connect() as con:
        row = con.execute(
            f"""
            SELECT
                count(*),
                count(*) FILTER (a.{keys[0]} IS NULL),
                count(*) FILTER (e.{keys[0]} IS NULL),
                {", ".join(differs(c) for c in values)}
            FROM read_parquet('{expected}') AS e
            FULL JOIN read_parquet('{actual}') AS a ON {on}
            """
        ).fetchone()
    return Comparison(
        mart=mart,
        rows=row[0],
        only_in_expected=row[1],
        only_in_actual=row[2],
        different_values=dict(zip(values, row[3:], strict=True)),
    )


def compare_core_marts(published_dir: Path, computed_dir: Path) -> list[Comparison]:
    return [
        compare_mart(mart, published_dir / f"{mart}.parquet", computed_dir / f"{mart}.parquet")
        for mart in CORE_MARTS
    ]
