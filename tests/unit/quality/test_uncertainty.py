"""The published intervals and change tests keep their promises (issue 35), as measured by the
uncertainty harness: exact enumeration for happiness, seeded simulation from the calibrated
generator for lost time. Each test also shows the harness catching the method it replaced, so
a harness that measured nothing could not pass."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from quality import uncertainty as u

DBT_VARS = yaml.safe_load(
    (Path(__file__).parents[3] / "dbt_project" / "dbt_project.yml").read_text()
)["vars"]


def test_happiness_intervals_cover_93_percent_at_the_named_points_from_ten_answers():
    for n in (10, 25, 50, 100):
        covered = u.coverage("adjusted Wald", n, u.NAMED_POINTS)
        # To a tenth of a percent, as issue 35 states its figures: (0.9, 0.03) at n = 10 is
        # 92.98 %, the 93.0 %.
        assert covered.round(3).min() >= u.MIN_HAPPINESS_COVERAGE, (n, covered)
    # The Wald interval published before missed a third of the time at n = 10, (0.9, 0.03).
    assert u.coverage("Wald", 10, [(0.9, 0.03)])[0] == pytest.approx(0.649, abs=5e-4)
    assert u.coverage("adjusted Wald", 10, [(0.9, 0.03)])[0] == pytest.approx(0.930, abs=5e-4)


def test_happiness_coverage_over_the_whole_grid_is_near_95_percent_on_average():
    """The full grid (p, d in steps of 0.05) as docs/metrics.md reports it: any discrete
    interval dips somewhere, so the mean is held near 95 % and the minimum to what was measured."""
    full = u.grid(20)
    measured_minimum = {5: 0.835, 10: 0.879, 25: 0.900, 50: 0.922, 100: 0.937}
    for n in u.SIZES:
        s = u.summarise(u.coverage("adjusted Wald", n, full), full)
        assert 0.945 <= s.mean <= 0.955, (n, s)
        assert s.minimum == pytest.approx(measured_minimum[n], abs=5e-4), (n, s)
    # Over promoter shares >= 0.3 at n = 10: mean 94.6 %, minimum 87.9 % (exact enumeration).
    happy = [pt for pt in full if pt[0] >= 0.3 - 1e-9]
    s = u.summarise(u.coverage("adjusted Wald", 10, happy), happy)
    assert (round(s.mean, 3), round(s.minimum, 3)) == (0.946, 0.879)


def test_every_published_interval_contains_its_score():
    """The gate assert_every_interval_contains_its_score relies on it for every n published."""
    for n in range(DBT_VARS["min_responses"], 301):
        c, b = u.outcomes(n)
        low, high = u.interval("adjusted Wald", n, c, b)
        score = (c - b) / n
        assert ((low <= score + 1e-12) & (score - 1e-12 <= high)).all(), n


def test_change_test_false_alarms_stay_under_6_5_percent_for_every_size_and_share():
    points = u.grid(10) + list(u.NAMED_POINTS)
    worst = {
        sizes: u.false_alarm_rate("adjusted Wald", *sizes, points).max() for sizes in u.CHANGE_SIZES
    }
    assert max(worst.values()) <= u.MAX_HAPPINESS_FALSE_ALARMS, worst
    # The Wald test published before called an unchanged 5-answer week changed half the time.
    assert u.false_alarm_rate("Wald", 5, 60, points).max() > 0.5


def test_a_change_test_sees_a_drop_more_often_with_more_answers():
    (before, after), _ = u.DROPS
    small = u.power("adjusted Wald", 25, 25, before, after)
    large = u.power("adjusted Wald", 100, 100, before, after)
    assert 0.10 < small < large < 0.60
    # An unchanged service is rarely called a drop: the same shares before and after.
    assert u.power("adjusted Wald", 100, 100, before, before) < 0.035


def test_the_simulated_lost_time_is_the_calibrated_heavy_tail():
    for minutes in u.lost_time_populations().values():
        assert 0.10 <= u.top_share(minutes) <= 0.16  # DOMAIN: ~13 % of answers hold 80 %
        assert minutes.size > 1000


def test_lost_time_intervals_are_published_only_where_they_cover_90_percent():
    threshold = DBT_VARS["min_lost_time_answers_for_interval"]
    assert threshold in u.LOST_TIME_INTERVAL_SIZES
    for name, minutes in u.lost_time_populations().items():
        measured = {
            m: u.lost_time_coverage(minutes, m, u.LOST_TIME_RUNS, seed=m)
            for m in u.LOST_TIME_INTERVAL_SIZES
        }
        assert all(measured[m] >= u.MIN_LOST_TIME_COVERAGE for m in measured if m >= threshold), (
            name,
            measured,
        )
        assert u.smallest_covering_size(measured) <= threshold
        # ... and below it the interval of the mean does not: at 25 answers it misses 1 in 6.
        assert measured[25] < 0.85, (name, measured)


def test_the_lost_time_change_test_keeps_false_alarms_under_5_percent():
    assert DBT_VARS["min_lost_time_answers_to_test"] == 5
    for name, minutes in u.lost_time_populations().items():
        for n_now, n_ref in ((5, 5), *u.CHANGE_SIZES):
            rate = u.lost_time_false_alarm_rate(
                minutes, n_now, n_ref, "ranks", u.LOST_TIME_RUNS, seed=n_now * 1000 + n_ref
            )
            assert rate <= u.MAX_LOST_TIME_FALSE_ALARMS, (name, n_now, n_ref, rate)
    # A test on the mean minutes called a 10-answer week against 120 changed a fifth of the time.
    minutes = u.lost_time_populations()["every service"]
    assert u.lost_time_false_alarm_rate(minutes, 10, 120, "means", 20_000, seed=1) > 0.15


def test_a_lost_time_test_sees_every_answer_doubling_with_enough_answers():
    minutes = u.lost_time_populations()["every service"]
    rng = np.random.default_rng(5)
    now = 2 * rng.choice(minutes, (4000, 100))
    ref = rng.choice(minutes, (4000, 400))
    assert u.lost_time_alarms(now, ref, "ranks").mean() > 0.8


def test_the_lost_time_test_calls_weeks_worse_no_more_often_than_its_p_values_say():
    """Benjamini-Hochberg judges a week's smallest p-values at levels far below 0.05, so the
    test's "worse" tail must hold there (demo organisations flagged five quiet weeks "worse"
    with the log test, whose tail at 0.005 is twice its promise)."""
    minutes = u.lost_time_populations()["every service"]
    for n_now, n_ref in ((5, 60), (10, 120), (25, 300), (10, 40)):
        ranks = u.lost_time_worse_tail(minutes, n_now, n_ref, "ranks", 0.005, 40_000, seed=n_ref)
        assert ranks <= 1.1, (n_now, n_ref, ranks)
    assert u.lost_time_worse_tail(minutes, 10, 120, "log", 0.005, 40_000, seed=3) > 1.5


def test_the_rank_test_statistic_is_the_tie_corrected_continuity_corrected_rank_sum():
    """Hand-computed, as the dbt unit test's lost-time case: five answers of 90 min against five
    of 5 min take ranks 6-10, mid-rank 8 each: rank-sum 40 against 5 * 11 / 2 = 27.5, moved 0.5
    towards 0 is 12; ties 2 * (5^3 - 5) = 240, se = sqrt(5 * 5 / 12 * (11 - 240 / 90))."""
    now, ref = np.full((1, 5), 90.0), np.full((1, 5), 5.0)
    tested, se, delta, _ = u.lost_time_statistics(now, ref, "ranks")
    assert tested[0] == 12.0
    assert se[0] == pytest.approx(math.sqrt(25 / 12 * (11 - 240 / 90)), rel=1e-12)
    assert delta[0] == 85.0
    # Without ties: 1, 2, 3 against 4, 5: rank-sum 6 against 3 * 6 / 2 = 9, -3 + 0.5 = -2.5,
    # se = sqrt(3 * 2 / 12 * 6).
    tested, se, _, _ = u.lost_time_statistics(
        np.array([[1.0, 2, 3]]), np.array([[4.0, 5]]), "ranks"
    )
    assert (tested[0], se[0]) == (-2.5, pytest.approx(math.sqrt(3.0)))
