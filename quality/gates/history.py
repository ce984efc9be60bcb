"""Gates that judge a table against its own past: volumes against earlier runs, the latest week's
happiness against the weeks before.

The volumes of validated runs are kept as one small JSON file per table under the quality dir's
history/ folder; a run's counts are recorded only when its gate passed (or had nothing to
compare with yet), so one bad day never becomes the next day's reference.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ingestion.sources import SOURCES
from quality.gates.common import GateContext, GateOutcome, validate
from quality.gates.marts import relation
from quality.gates.raw import IN_WINDOW
from quality.specs import MartSpec
from quality.validation import expect_between


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


def mart_volume(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """At least volume_min_ratio['marts'] of the previous validated run's rows."""
    gate = f"{spec.table}_volume_holds_against_previous_run"
    history = read_history(ctx.history_dir, spec.table)
    rows = int(ctx.db.scalar(f"SELECT count(*) FROM {relation(spec)}"))
    if not history:
        record(ctx.history_dir, spec.table, {ctx.run_date.isoformat(): rows})
        return GateOutcome(gate, skipped="first validated run: nothing to compare with yet")
    previous_key = max(history)
    floor = math.ceil(ctx.config.volume_min_ratio["marts"] * history[previous_key])
    outcome = GateOutcome(
        gate,
        [validate(ctx, pd.DataFrame({"rows": [rows]}), gate, [expect_between("rows", floor)])],
    )
    outcome.notes.update(rows=rows, previous_rows=history[previous_key], min_rows=floor)
    if outcome.passed:
        record(ctx.history_dir, spec.table, {ctx.run_date.isoformat(): rows})
    return outcome


def _partition_counts(ctx: GateContext, table: str) -> dict[date, int]:
    found = dict(
        ctx.db.rows(
            f"SELECT _extract_date, count(*) FROM raw.{table} WHERE {IN_WINDOW} GROUP BY 1",
            ctx.window,
        )
    )
    return {d: int(found.get(d, 0)) for d in ctx.partitions}


def raw_volume(ctx: GateContext, source: str) -> GateOutcome:
    """Each extract holds at least volume_min_ratio['raw'] x the median of the previous 28."""
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_volume_holds_against_previous_runs"
    history = {
        date.fromisoformat(k): v for k, v in read_history(ctx.history_dir, contract.table).items()
    }
    counts = _partition_counts(ctx, contract.table)
    ratio = ctx.config.volume_min_ratio["raw"]
    rows, too_small = [], []
    known = dict(history)
    for day in sorted(counts):
        previous = [known[d] for d in sorted(known) if d < day][-28:]
        if len(previous) >= 7:
            reference = statistics.median(previous)
            if reference >= ctx.config.volume_min_reference_rows:
                rows.append((str(day), counts[day], math.ceil(ratio * reference)))
            else:
                too_small.append(str(day))
        known[day] = counts[day]
    if not rows:
        record(ctx.history_dir, contract.table, {d.isoformat(): n for d, n in counts.items()})
        reason = (
            f"reference volume under {ctx.config.volume_min_reference_rows} rows"
            if too_small
            else "fewer than 7 earlier extracts: nothing to compare with yet"
        )
        return GateOutcome(gate, skipped=reason, notes={"not_judged": too_small})
    summary = pd.DataFrame(rows, columns=["extract_date", "rows", "min_rows"])
    summary["shortfall"] = summary["min_rows"] - summary["rows"]
    # GX compares a column with constants, so the per-extract floor is checked as a shortfall.
    outcome = GateOutcome(
        gate, [validate(ctx, summary, gate, [expect_between("shortfall", max_value=0)])]
    )
    if outcome.passed:
        record(ctx.history_dir, contract.table, {d.isoformat(): n for d, n in counts.items()})
    outcome.notes.update(extracts=len(counts), min_ratio=ratio, not_judged=too_small)
    return outcome


def weekly_happiness_distribution(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """The latest complete week's mean happiness lies within the spread of the weeks before."""
    gate = f"{spec.table}_happiness_within_recent_history"
    config = ctx.config
    # The mean of the services' scores each week (each service counts once, whatever its size).
    weekly = ctx.db.rows(
        f"SELECT CAST(week_start AS DATE), avg(happiness_score) FROM {relation(spec)} "
        "WHERE happiness_score IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    complete = [
        (week, float(mean)) for week, mean in weekly if week + timedelta(days=6) <= ctx.run_date
    ]
    if len(complete) < config.distribution_min_weeks + 1:
        return GateOutcome(
            gate,
            skipped=f"{len(complete)} complete weeks; need "
            f"{config.distribution_min_weeks + 1} to judge",
        )
    latest_week, latest = complete[-1]
    history = [mean for _, mean in complete[-13:-1]]
    mean = statistics.fmean(history)
    spread = max(statistics.pstdev(history), config.distribution_min_sd)
    low, high = (
        mean - config.distribution_sigmas * spread,
        mean + config.distribution_sigmas * spread,
    )
    summary = pd.DataFrame({"week_start": [str(latest_week)], "mean_happiness": [latest]})
    outcome = GateOutcome(
        gate, [validate(ctx, summary, gate, [expect_between("mean_happiness", low, high)])]
    )
    outcome.notes.update(
        week=str(latest_week),
        mean_happiness=round(latest, 2),
        bounds=[round(low, 2), round(high, 2)],
        history_weeks=len(history),
    )
    return outcome
