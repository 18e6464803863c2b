"""Working days, school days and local times for the synthetic feed.

Pure: the bank-holiday set is passed in (the CLI builds it from ``holidays``), so every function
is a plain calculation. Convention as in DOMAIN.md: the start day is day 0 and "+N working days"
is the Nth working day after it. Moments are built from Europe/London wall-clock times and
returned in UTC, so arithmetic and ordering never trip over a clock change.
"""

from __future__ import annotations

import functools
from collections.abc import Set
from datetime import UTC, date, datetime, time, timedelta

from schemas.envelope import LONDON

# Approximate English school holidays as (month, day) ranges, inclusive; term time is the rest.
_SCHOOL_HOLIDAYS = (
    ((1, 1), (1, 3)),
    ((2, 12), (2, 18)),
    ((3, 29), (4, 12)),
    ((5, 27), (5, 31)),
    ((7, 23), (9, 3)),
    ((10, 28), (11, 1)),
    ((12, 21), (12, 31)),
)


def is_working_day(day: date, holidays: Set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(day: date, count: int, holidays: Set[date]) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself when ``count`` is 0)."""
    if isinstance(holidays, frozenset):
        return _add_working_days_cached(day, count, holidays)
    return _add_working_days(day, count, holidays)


@functools.lru_cache(maxsize=65_536)
def _add_working_days_cached(day: date, count: int, holidays: frozenset[date]) -> date:
    return _add_working_days(day, count, holidays)


def _add_working_days(day: date, count: int, holidays: Set[date]) -> date:
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            count -= 1
    return day


def subtract_working_days(day: date, count: int, holidays: Set[date]) -> date:
    """The ``count``-th working day before ``day`` (a report due N working days before it)."""
    while count > 0:
        day -= timedelta(days=1)
        if is_working_day(day, holidays):
            count -= 1
    return day


def working_day_on_or_after(day: date, holidays: Set[date]) -> date:
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day


def working_day_on_or_before(day: date, holidays: Set[date]) -> date:
    while not is_working_day(day, holidays):
        day -= timedelta(days=1)
    return day


def is_school_day(day: date, holidays: Set[date]) -> bool:
    if not is_working_day(day, holidays):
        return False
    key = (day.month, day.day)
    return not any(first <= key <= last for first, last in _SCHOOL_HOLIDAYS)


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, clamped to the month's end."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def local_moment(day: date, minutes: int) -> datetime:
    """The UTC instant of ``minutes`` after local midnight on ``day`` (Europe/London wall time)."""
    wall = datetime.combine(day, time(0), tzinfo=LONDON) + timedelta(minutes=minutes)
    return wall.astimezone(UTC)


def london_day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def london_minutes(moment: datetime) -> int:
    local = moment.astimezone(LONDON)
    return local.hour * 60 + local.minute


def is_out_of_hours(moment: datetime, holidays: Set[date]) -> bool:
    """Outside 09:00–17:00 on a working day: the emergency duty team's time."""
    if not is_working_day(london_day(moment), holidays):
        return True
    return not 9 * 60 <= london_minutes(moment) < 17 * 60
