"""The desk's clock (Mon-Fri 08-17 UTC) that resolution times are drawn and measured on."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion.synthetic.business_hours import (
    add_business_seconds,
    business_hours_between,
)


def _t(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[s]")


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        # Within one day.
        ("2026-03-02T09:00:00", 2, "2026-03-02T11:00:00"),
        # Up to closing time exactly: ends at 17:00, not at the next opening.
        ("2026-03-02T08:00:00", 9, "2026-03-02T17:00:00"),
        # Across the night: one hour on Monday, one on Tuesday.
        ("2026-03-02T16:00:00", 2, "2026-03-03T09:00:00"),
        # Across the weekend: Friday 16:00 plus two hours is Monday 09:00.
        ("2026-03-06T16:00:00", 2, "2026-03-09T09:00:00"),
        # Opened on a Saturday or at night: the clock starts at the next opening.
        ("2026-03-07T11:30:00", 1, "2026-03-09T09:00:00"),
        ("2026-03-02T22:00:00", 3, "2026-03-03T11:00:00"),
        ("2026-03-03T06:00:00", 1, "2026-03-03T09:00:00"),
        # 31.5 h from Wednesday noon: 5 h Wednesday, 9 Thursday, 9 Friday, 8.5 Monday.
        ("2026-03-04T12:00:00", 31.5, "2026-03-09T16:30:00"),
    ],
)
def test_business_time_is_added_on_weekdays_between_eight_and_five(start, hours, end):
    resolved = add_business_seconds(_t(start), np.array([hours * 3600]))
    assert resolved[0] == np.datetime64(end)


def test_business_hours_between_reads_back_what_was_added():
    rng = np.random.default_rng(3)
    starts = np.datetime64("2026-03-01T00:00:00") + rng.integers(0, 60 * 86_400, 2_000).astype(
        "timedelta64[s]"
    )
    hours = rng.uniform(0.1, 60, 2_000)
    ends = add_business_seconds(starts, np.round(hours * 3600))
    assert np.allclose(business_hours_between(starts, ends), hours, atol=1 / 3600)
    assert (ends > starts).all()


def test_nights_and_weekends_do_not_count():
    between = business_hours_between(
        _t("2026-03-06T17:00:00", "2026-03-06T12:00:00", "2026-03-07T10:00:00"),
        _t("2026-03-09T08:00:00", "2026-03-09T12:00:00", "2026-03-08T20:00:00"),
    )
    assert between.tolist() == [0.0, 9.0, 0.0]
