"""How honest the published intervals and change tests are: the uncertainty harness (issue 35).

The marts publish a 95 % interval beside every happiness score and lost-time mean, and
`experience_changes` calls a week "better" or "worse" only when a test says so. This module
measures what those promises are worth, with the formulas the dbt macros implement
(`dbt_project/macros/experience_uncertainty.sql`, docs/metrics.md) written again in numpy:

- **Happiness** by exact enumeration: a week of n answers is a trinomial draw of promoters
  (9-10), passives (7-8) and detractors (0-6), so every possible week is weighed by its exact
  probability. Coverage over a grid of true (promoter, detractor) shares; the change test's
  false-alarm rate over unchanged services (both windows drawn from the same shares) and its
  power to see a 20-point drop.
- **Lost time** by seeded simulation from the answers the calibrated generator draws (heavy
  tailed: about 13 % of the answers hold 80 % of the minutes), for the interval's coverage and
  the change test's false alarms.

`tests/unit/quality/test_uncertainty.py` holds the pipeline to its figures, and
`python -m quality.uncertainty` prints the tables of docs/metrics.md.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

Z = 1.96
# Sizes of the one-sample grid, and the (promoter, detractor) shares named in issue 35.
SIZES = (5, 10, 25, 50, 100)
NAMED_POINTS = ((0.9, 0.03), (0.7, 0.1), (0.5, 0.25), (1.0, 0.0))
# (answers this week, answers in the reference) of an unchanged service: equal weeks, and a
# week against the previous four weeks (x4) or a 12-week baseline (x12) as experience_changes
# pools them, from a 5-answer week up.
CHANGE_SIZES = (
    (10, 10),
    (25, 25),
    (100, 100),
    (5, 20),
    (5, 60),
    (10, 40),
    (10, 60),
    (10, 120),
    (25, 100),
    (25, 300),
)
# (reference answers, answers this week) at the demo's typical sizes (a week of 10-30 answers,
# four weeks of 40-110, a baseline of 120-260) and equal halves, for the power table.
POWER_SIZES = ((25, 25), (50, 50), (100, 100), (80, 20), (100, 25), (240, 20), (240, 30))
# 20-point drops: from (promoter, detractor) shares before to after.
DROPS = (((0.7, 0.1), (0.6, 0.2)), ((0.9, 0.03), (0.8, 0.13)))
# What the tests hold the pipeline to (issue 35).
MIN_HAPPINESS_COVERAGE = 0.93  # at the named points, n >= 10
MAX_HAPPINESS_FALSE_ALARMS = 0.065  # per test, everywhere on CHANGE_SIZES x the grid
MIN_LOST_TIME_COVERAGE = 0.90  # wherever a lost-time interval is published
MAX_LOST_TIME_FALSE_ALARMS = 0.05  # per test, wherever the lost-time test runs


def grid(steps: int) -> list[tuple[float, float]]:
    """(promoter share, detractor share) = (i/steps, j/steps) with i + j <= steps."""
    return [(i / steps, j / steps) for i in range(steps + 1) for j in range(steps + 1 - i)]


# --- Happiness: enumeration ----------------------------------------------------------------


@cache
def outcomes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every possible week of n answers as (promoters, detractors) arrays."""
    c, b = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = c + b <= n
    return c[keep].astype(float), b[keep].astype(float)


@cache
def _log_factorials(n: int) -> np.ndarray:
    return np.array([math.lgamma(k + 1) for k in range(n + 1)])


def _x_log_y(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), 0 where x is 0 (a share of 0 makes only outcomes without that answer)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            x == 0, 0.0, x * np.log(np.where(y > 0, y, 1.0)) + np.where(y > 0, 0, -np.inf)
        )


def probabilities(n: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Trinomial probability of each outcome of `outcomes(n)` (columns) at each point (rows)."""
    c, b = outcomes(n)
    passives = n - c - b
    lf = _log_factorials(n)
    base = lf[n] - lf[c.astype(int)] - lf[b.astype(int)] - lf[passives.astype(int)]
    p = np.array([pt[0] for pt in points])[:, None]
    d = np.array([pt[1] for pt in points])[:, None]
    # The passive share from the exact fractions, not 1 - p - d (0.9 + 0.1 leaves 1e-17).
    q = np.clip(np.round(1.0 - p - d, 12), 0.0, 1.0)
    return np.exp(base + _x_log_y(c, p) + _x_log_y(b, d) + _x_log_y(passives, q))


def wald(n: int, c: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The score and the variance of it, as published until issue 35 (fractions, not points)."""
    p, d = c / n, b / n
    score = p - d
    return score, np.maximum(p + d - score**2, 0.0) / n


def adjusted_wald(n: int, c: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted Wald (Rocks 2016; Lewis & Sauro): 3 more answers, 3/4 promoter, 3/4 detractor."""
    n_adj = n + 3
    p, d = (c + 0.75) / n_adj, (b + 0.75) / n_adj
    score = p - d
    return score, (p + d - score**2) / n_adj


METHODS = {"Wald": wald, "adjusted Wald": adjusted_wald}


def interval(method: str, n: int, c: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre, variance = METHODS[method](n, c, b)
    half = Z * np.sqrt(variance)
    return np.maximum(centre - half, -1.0), np.minimum(centre + half, 1.0)


def coverage(method: str, n: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Probability that the interval holds the true score (low <= p - d <= high), per point."""
    c, b = outcomes(n)
    low, high = interval(method, n, c, b)
    truth = np.array([p - d for p, d in points])[:, None]
    covers = (low[None, :] <= truth + 1e-12) & (truth - 1e-12 <= high[None, :])
    return (probabilities(n, points) * covers).sum(axis=1)


def alarms(method: str, n_now: int, n_ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Which (this week, reference) outcome pairs experience_changes calls significant, and
    which of those it calls worse. Per test, before Benjamini-Hochberg (which only raises
    p-values): the test's delta clears 1.96 standard errors, and so does the published delta
    (the difference of the reported scores), in the same direction."""
    c1, b1 = outcomes(n_now)
    c2, b2 = outcomes(n_ref)
    s1, v1 = METHODS[method](n_now, c1, b1)
    s2, v2 = METHODS[method](n_ref, c2, b2)
    se = np.sqrt(v1[:, None] + v2[None, :])
    tested = s1[:, None] - s2[None, :]
    published = ((c1 - b1) / n_now)[:, None] - ((c2 - b2) / n_ref)[None, :]
    significant = (
        (se > 0)
        & (np.abs(tested) >= Z * se)
        & (np.abs(published) >= Z * se)
        & ((tested > 0) == (published > 0))
    )
    return significant, significant & (published < 0)


def false_alarm_rate(
    method: str, n_now: int, n_ref: int, points: Sequence[tuple[float, float]]
) -> np.ndarray:
    """Chance that an unchanged service (both windows from the same shares) is called changed."""
    significant, _ = alarms(method, n_now, n_ref)
    now, ref = probabilities(n_now, points), probabilities(n_ref, points)
    return np.einsum("gi,ij,gj->g", now, significant.astype(float), ref)


def power(
    method: str, n_ref: int, n_now: int, before: tuple[float, float], after: tuple[float, float]
) -> float:
    """Chance that the week is called a significant drop when its shares moved before -> after."""
    _, worse = alarms(method, n_now, n_ref)
    now, ref = probabilities(n_now, [after]), probabilities(n_ref, [before])
    return float(now[0] @ worse.astype(float) @ ref[0])


# --- Lost time: simulation from the calibrated generator -----------------------------------


@cache
def lost_time_populations(seed: int = 7) -> dict[str, np.ndarray]:
    """The lost-time answers of a calibrated organisation (20,000 employees, half a year), all
    services together and the service whose answers are heaviest: the true distributions the
    simulation samples weeks from."""
    from ingestion.synthetic.generator import GeneratorConfig, ticket_survey_answers

    answers = ticket_survey_answers(
        GeneratorConfig(employees=20_000, days=182, start=date(2026, 1, 5), seed=seed)
    ).dropna(subset=["lost_time_minutes"])
    heaviest = answers.groupby("service_id")["lost_time_minutes"].mean().idxmax()
    return {
        "every service": answers["lost_time_minutes"].to_numpy(),
        f"heaviest service ({heaviest})": answers.loc[
            answers["service_id"] == heaviest, "lost_time_minutes"
        ].to_numpy(),
    }


def top_share(minutes: np.ndarray, of_total: float = 0.8) -> float:
    """Share of the answers that hold `of_total` of the minutes."""
    ordered = np.sort(minutes)[::-1]
    return float((np.searchsorted(np.cumsum(ordered) / ordered.sum(), of_total) + 1) / ordered.size)


def lost_time_interval(minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mean -/+ 1.96 s / sqrt(m) of each row (the low end floored at 0), as the marts publish."""
    m = minutes.shape[1]
    mean = minutes.mean(axis=1)
    half = Z * minutes.std(axis=1, ddof=1) / math.sqrt(m)
    return np.maximum(mean - half, 0.0), mean + half


def lost_time_coverage(population: np.ndarray, m: int, runs: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    low, high = lost_time_interval(rng.choice(population, (runs, m)))
    truth = population.mean()
    return float(((low <= truth) & (truth <= high)).mean())


def mid_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1-based) within each row, tied values sharing the mean of the ranks they span, and
    each row's tie term sum(t^3 - t) over its groups of t equal values."""
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    rows, size = ordered.shape
    position = np.broadcast_to(np.arange(size), (rows, size))
    new_run = np.ones((rows, size), dtype=bool)
    new_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends_run = np.ones((rows, size), dtype=bool)
    ends_run[:, :-1] = new_run[:, 1:]
    first = np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends_run, position, size)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty_like(ordered, dtype=float)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    run_length = last - first + 1
    return ranks, (run_length**2 - 1).sum(axis=1).astype(float)


def lost_time_alarms(now: np.ndarray, ref: np.ndarray, test: str) -> np.ndarray:
    """Which (week, reference) pairs the lost-time test calls changed, one pair per row.

    "means": the Welch z-test on the mean minutes published until issue 35. "log": a z-test on
    mean log(1 + minutes) with the two windows' variance pooled. "ranks", as experience_changes
    tests now: the Mann-Whitney rank-sum z (mid-ranks, tie-corrected variance, continuity
    correction 0.5). Both of the last two count a change only where the published delta of the
    means is as large as the change in minutes the answers could detect (the reference mean
    times exp(1.96 se) - 1, se of the log test) and in the direction the test found.
    """
    tested, se, delta, detectable = lost_time_statistics(now, ref, test)
    if test == "means":
        return (se > 0) & (np.abs(tested) >= Z * se)
    return (
        (se > 0)
        & (np.abs(tested) >= Z * se)
        & (np.abs(delta) >= detectable)
        & ((tested > 0) == (delta > 0))
    )


def lost_time_statistics(
    now: np.ndarray, ref: np.ndarray, test: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: what the test judges and its standard error (z = tested / se), the published
    delta of the means and the detectable change in minutes (see lost_time_alarms)."""
    m1, m2 = now.shape[1], ref.shape[1]
    delta = now.mean(axis=1) - ref.mean(axis=1)
    if test == "means":
        se = np.sqrt(now.var(axis=1, ddof=1) / m1 + ref.var(axis=1, ddof=1) / m2)
        return delta, se, delta, Z * se
    log_now, log_ref = np.log1p(now), np.log1p(ref)
    log_se = np.sqrt(
        np.concatenate([log_now, log_ref], axis=1).var(axis=1, ddof=1) * (1 / m1 + 1 / m2)
    )
    detectable = ref.mean(axis=1) * np.expm1(Z * log_se)
    if test == "log":
        return log_now.mean(axis=1) - log_ref.mean(axis=1), log_se, delta, detectable
    n = m1 + m2
    ranks, ties = mid_ranks(np.concatenate([now, ref], axis=1))
    shift = ranks[:, :m1].sum(axis=1) - m1 * (n + 1) / 2
    tested = np.sign(shift) * np.maximum(np.abs(shift) - 0.5, 0.0)
    se = np.sqrt(m1 * m2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    return tested, se, delta, detectable


def lost_time_worse_tail(
    population: np.ndarray, m_now: int, m_ref: int, test: str, alpha: float, runs: int, seed: int
) -> float:
    """How often an unchanged service's week lands in the "worse" tail of a two-sided level
    `alpha` (z above its normal quantile), as a multiple of alpha / 2. Benjamini-Hochberg judges
    the smallest p-values of a week at levels far below 0.05, so a test's tail must hold there:
    above 1 the test calls more weeks worse than its p-values say."""
    from statistics import NormalDist

    rng = np.random.default_rng(seed)
    now, ref = rng.choice(population, (runs, m_now)), rng.choice(population, (runs, m_ref))
    tested, se, _, _ = lost_time_statistics(now, ref, test)
    critical = NormalDist().inv_cdf(1 - alpha / 2)
    return float(((se > 0) & (tested >= critical * se)).mean() / (alpha / 2))


def lost_time_false_alarm_rate(
    population: np.ndarray, m_now: int, m_ref: int, test: str, runs: int, seed: int
) -> float:
    rng = np.random.default_rng(seed)
    now, ref = rng.choice(population, (runs, m_now)), rng.choice(population, (runs, m_ref))
    return float(lost_time_alarms(now, ref, test).mean())


LOST_TIME_INTERVAL_SIZES = (5, 10, 25, 50, 100, 150, 200)
LOST_TIME_TESTS = ("means", "log", "ranks")
LOST_TIME_RUNS = 20_000


def smallest_covering_size(coverages: dict[int, float]) -> int | None:
    """The smallest answer count from which every larger measured count covers as promised."""
    sizes = sorted(coverages)
    for i, m in enumerate(sizes):
        if all(coverages[k] >= MIN_LOST_TIME_COVERAGE for k in sizes[i:]):
            return m
    return None


# --- Tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    mean: float
    minimum: float
    where: tuple[float, float]


def summarise(values: np.ndarray, points: Sequence[tuple[float, float]]) -> Summary:
    worst = int(np.argmin(values))
    return Summary(float(values.mean()), float(values.min()), points[worst])


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def happiness_coverage_table() -> str:
    full = grid(20)
    rows = []
    for n in SIZES:
        named = {m: coverage(m, n, NAMED_POINTS) for m in METHODS}
        overall = {m: summarise(coverage(m, n, full), full) for m in METHODS}
        for k, (p, d) in enumerate(NAMED_POINTS):
            rows.append([str(n), f"{p:g}, {d:g}"] + [_pct(named[m][k]) for m in METHODS])
        rows.append(
            [str(n), "grid mean / min"]
            + [
                f"{_pct(s.mean)} / {_pct(s.minimum)} at ({s.where[0]:g}, {s.where[1]:g})"
                for s in overall.values()
            ]
        )
    return _table(["n", "true shares (9-10, 0-6)", *METHODS], rows)


def happiness_false_alarm_table() -> str:
    points = grid(10) + list(NAMED_POINTS)
    rows = []
    for n_now, n_ref in CHANGE_SIZES:
        cells = []
        for m in METHODS:
            rate = false_alarm_rate(m, n_now, n_ref, points)
            k = int(np.argmax(rate))
            cells.append(f"{_pct(rate[k])} at ({points[k][0]:g}, {points[k][1]:g})")
        rows.append([f"{n_now} vs {n_ref}", *cells])
    return _table(["answers (week vs reference)", "Wald: worst", "adjusted Wald: worst"], rows)


def power_table() -> str:
    rows = []
    for n_ref, n_now in POWER_SIZES:
        rows.append(
            [f"{n_now} vs {n_ref}"]
            + [
                _pct(power(m, n_ref, n_now, before, after))
                for before, after in DROPS
                for m in METHODS
            ]
        )
    header = ["answers (week vs reference)"] + [
        f"{m}, {100 * (b[0] - b[1]):.0f} to {100 * (a[0] - a[1]):.0f}"
        for b, a in DROPS
        for m in METHODS
    ]
    return _table(header, rows)


def lost_time_tables() -> str:
    populations = lost_time_populations()
    coverage_rows = []
    for name, pop in populations.items():
        coverage_rows.append(
            [f"{name}: mean {pop.mean():.0f} min, {_pct(top_share(pop))} hold 80 %"]
            + [
                _pct(lost_time_coverage(pop, m, LOST_TIME_RUNS, seed=m))
                for m in LOST_TIME_INTERVAL_SIZES
            ]
        )
    alarm_rows = []
    for n_now, n_ref in ((5, 5), *CHANGE_SIZES):
        alarm_rows.append(
            [f"{n_now} vs {n_ref}"]
            + [
                _pct(
                    lost_time_false_alarm_rate(
                        pop, n_now, n_ref, t, LOST_TIME_RUNS, seed=n_now * 1000 + n_ref
                    )
                )
                for t in LOST_TIME_TESTS
                for pop in populations.values()
            ]
        )
    tail_sizes = ((5, 60), (10, 40), (10, 120), (25, 100), (25, 300))
    everyone = populations["every service"]
    tail_rows = [
        [t]
        + [
            f"{lost_time_worse_tail(everyone, a, b, t, 0.005, 40_000, seed=b):.2f}"
            for a, b in tail_sizes
        ]
        for t in LOST_TIME_TESTS[1:]
    ]
    names = list(populations)
    return (
        _table(["distribution", *(f"m = {m}" for m in LOST_TIME_INTERVAL_SIZES)], coverage_rows)
        + "\n\n"
        + _table(
            ["answers (week vs reference)"] + [f"{t}: {n}" for t in LOST_TIME_TESTS for n in names],
            alarm_rows,
        )
        + "\n\n"
        + _table(
            ["test: worse tail at 0.005, x its promise", *(f"{a} vs {b}" for a, b in tail_sizes)],
            tail_rows,
        )
    )


def report() -> str:
    return "\n\n".join(
        [
            "Happiness interval coverage (exact):\n\n" + happiness_coverage_table(),
            "Happiness change test, false alarms per test (exact, worst grid point):\n\n"
            + happiness_false_alarm_table(),
            "Power to call a 20-point drop (exact):\n\n" + power_table(),
            "Lost time (simulated):\n\n" + lost_time_tables(),
        ]
    )


if __name__ == "__main__":
    sys.stdout.write(report() + "\n")
