"""Gates that judge a table against its own past: an extract's volume against the earlier
extracts of its weekday, a mart's rows against the previous run, the latest week's happiness
against the weeks before.

The volumes of validated runs are kept as one small JSON file per table under the quality dir's
history/ folder; a run's counts are recorded only when its gate passed (or had nothing to
compare with yet), so one bad day never becomes the next day's reference.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ingestion.sources import SOURCES
from quality.config import GateConfig
from quality.gates.common import GateContext, GateOutcome, not_configured, validate
from quality.gates.marts import relation
from quality.gates.raw import IN_WINDOW
from quality.specs import SURVEYS, MartSpec
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
    """At least volume_min_ratio['marts'] of the previous validated run's rows, once that run
    held mart_volume_min_previous_rows."""
    gate = f"{spec.table}_volume_holds_against_previous_run"
    if missing := ctx.not_declared(spec.needs):
        return not_configured(gate, missing, "the mart is published empty")
    history = read_history(ctx.history_dir, spec.table)
    rows = int(ctx.db.scalar(f"SELECT count(*) FROM {relation(spec)}"))
    if not history:
        record(ctx.history_dir, spec.table, {ctx.run_date.isoformat(): rows})
        return GateOutcome(gate, skipped="first validated run: nothing to compare with yet")
    previous_key = max(history)
    if history[previous_key] < ctx.config.mart_volume_min_previous_rows:
        record(ctx.history_dir, spec.table, {ctx.run_date.isoformat(): rows})
        return GateOutcome(
            gate,
            skipped=(
                f"the previous run held {history[previous_key]} rows, under "
                f"{ctx.config.mart_volume_min_previous_rows}: too few to tell a collapse from "
                f"rows that come and go (now {rows})"
            ),
            notes={"rows": rows, "previous_rows": history[previous_key]},
        )
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


# An extract is judged once its weekday has this many earlier extracts: the median of three
# shrugs off one odd week (a public holiday) where that of one or two would not.
MIN_REFERENCE_WEEKDAYS = 3


@dataclass(frozen=True)
class VolumeVerdicts:
    """Each extract's count against its weekday's reference, or why it was not judged."""

    judged: list[tuple[date, int, float, int]]  # extract date, rows, reference, minimum rows
    too_early: list[date]  # its weekday has too few earlier extracts yet
    too_small: list[date]  # its weekday's reference is under volume_min_reference_rows


def weekday_volumes(
    history: dict[date, int], counts: dict[date, int], config: GateConfig
) -> VolumeVerdicts:
    """Judge each of `counts` (extract date -> rows) against the median of the previous
    `volume_reference_weekdays` extracts of the same weekday, from `history` and the extracts
    of `counts` before it (a backfill judges its days in order).

    Answers and tickets arrive on business days: at 20,000 employees a Sunday holds 15-40
    answers where a weekday holds about 190, so a Sunday judged against the month's median
    failed every weekend. Against Sundays it is judged like any other day.
    """
    ratio = config.volume_min_ratio["raw"]
    verdicts = VolumeVerdicts([], [], [])
    known = dict(history)
    for day in sorted(counts):
        same_weekday = [
            known[d] for d in sorted(known) if d < day and d.weekday() == day.weekday()
        ][-config.volume_reference_weekdays :]
        if len(same_weekday) < MIN_REFERENCE_WEEKDAYS:
            verdicts.too_early.append(day)
        else:
            reference = statistics.median(same_weekday)
            if reference >= config.volume_min_reference_rows:
                verdicts.judged.append((day, counts[day], reference, math.ceil(ratio * reference)))
            else:
                verdicts.too_small.append(day)
        known[day] = counts[day]
    return verdicts


def raw_volume(ctx: GateContext, source: str) -> GateOutcome:
    """Each extract holds at least volume_min_ratio['raw'] x the median of the previous
    extracts of its weekday (weekday_volumes)."""
    contract = SOURCES[source].contract
    gate = f"raw_{contract.table}_volume_holds_against_previous_runs"
    if source not in ctx.sources:
        return not_configured(gate, [source], "nothing is expected from it")
    history = {
        date.fromisoformat(k): v for k, v in read_history(ctx.history_dir, contract.table).items()
    }
    counts = _partition_counts(ctx, contract.table)
    verdicts = weekday_volumes(history, counts, ctx.config)
    not_judged = {
        "too_few_earlier_extracts_of_the_weekday": [str(d) for d in verdicts.too_early],
        f"weekday_reference_under_{ctx.config.volume_min_reference_rows}_rows": [
            str(d) for d in verdicts.too_small
        ],
    }
    if not verdicts.judged:
        record(ctx.history_dir, contract.table, {d.isoformat(): n for d, n in counts.items()})
        reason = (
            f"its weekday's reference volume is under {ctx.config.volume_min_reference_rows} rows"
            if verdicts.too_small
            else f"fewer than {MIN_REFERENCE_WEEKDAYS} earlier extracts of its weekday: "
            "nothing to compare with yet"
        )
        return GateOutcome(gate, skipped=reason, notes={"not_judged": not_judged})
    summary = pd.DataFrame(
        [(str(d), rows, reference, floor) for d, rows, reference, floor in verdicts.judged],
        columns=["extract_date", "rows", "weekday_median", "min_rows"],
    )
    summary["shortfall"] = summary["min_rows"] - summary["rows"]
    # GX compares a column with constants, so the per-extract floor is checked as a shortfall.
    outcome = GateOutcome(
        gate, [validate(ctx, summary, gate, [expect_between("shortfall", max_value=0)])]
    )
    if outcome.passed:
        record(ctx.history_dir, contract.table, {d.isoformat(): n for d, n in counts.items()})
    else:
        short = summary[summary["shortfall"] > 0]
        ratio = ctx.config.volume_min_ratio["raw"]
        outcome.summary = "; ".join(
            f"{r.extract_date}: {r.rows} rows, under {r.min_rows} "
            f"({ratio:.0%} of its weekday's median {r.weekday_median:g})"
            for r in short.head(5).itertuples()
        )
    outcome.notes.update(
        extracts=len(counts),
        judged=len(verdicts.judged),
        min_ratio=ctx.config.volume_min_ratio["raw"],
        not_judged=not_judged,
    )
    return outcome


def weekly_happiness_distribution(ctx: GateContext, spec: MartSpec) -> GateOutcome:
    """The latest complete week's mean happiness lies within the spread of the weeks before."""
    gate = f"{spec.table}_happiness_within_recent_history"
    if missing := ctx.not_declared(SURVEYS):
        return not_configured(gate, missing, "no happiness to judge")
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
