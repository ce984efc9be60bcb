"""The service desk's business hours: Monday to Friday, 08:00 to 17:00 UTC.

DOMAIN §5 gives resolution times in business hours (the SLA clock of a ServiceNow schedule
stops at night and at weekends), so the generator draws them on this clock and turns them into
calendar times, and the realism report measures them back on it. Times are numpy datetime64[s]
arrays; both directions are vectorised over every ticket at once.
"""

from __future__ import annotations

import numpy as np

OPENS_HOUR = 8
CLOSES_HOUR = 17
DAY_SECONDS = (CLOSES_HOUR - OPENS_HOUR) * 3600
# busday_count and busday_offset count business days from here (a Monday).
_ORIGIN = np.datetime64("2000-01-03", "D")


def business_seconds(times: np.ndarray) -> np.ndarray:
    """Business seconds from the origin up to each time (the clock's reading at that time)."""
    times = np.asarray(times, dtype="datetime64[s]")
    days = times.astype("datetime64[D]")
    second_of_day = (times - days).astype(np.int64)
    in_day = np.clip(second_of_day - OPENS_HOUR * 3600, 0, DAY_SECONDS)
    return np.busday_count(_ORIGIN, days) * DAY_SECONDS + np.where(np.is_busday(days), in_day, 0)


def at_business_seconds(clock: np.ndarray) -> np.ndarray:
    """The calendar time at which the business clock reads `clock` (> 0) seconds."""
    clock = np.asarray(clock, dtype=np.int64)
    # The last business day the clock reaches: a reading that ends a day exactly ends at 17:00.
    day_index = -(-clock // DAY_SECONDS) - 1
    into_day = clock - day_index * DAY_SECONDS
    day = np.busday_offset(_ORIGIN, day_index, roll="forward")
    return (
        day.astype("datetime64[s]")
        + np.timedelta64(OPENS_HOUR * 3600, "s")
        + into_day.astype("timedelta64[s]")
    )


def add_business_seconds(starts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """When `seconds` of business time have passed since each start (the clock starts at the
    next opening when a start falls outside business hours)."""
    seconds = np.maximum(np.asarray(seconds, dtype=np.int64), 1)
    return at_business_seconds(business_seconds(starts) + seconds)


def business_hours_between(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Business hours from each start to each end."""
    return (business_seconds(ends) - business_seconds(starts)) / 3600.0
