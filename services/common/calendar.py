"""The England & Wales working-day calendar every statutory clock is computed on (DOMAIN.md §2).

A `WorkingCalendar` knows which dates are working days (Monday to Friday, not an England & Wales
bank holiday, one-off days such as the 2011 royal wedding and the 2012 and 2022 jubilees included)
and does the date arithmetic the timers need, always in Europe/London wall-clock time: +N working
days to 23:59:59 local with the start day as day 0, working-hour windows inside configurable office
hours, "09:00 next working day", "before the next school day", calendar months with end-of-month
clamping and real elapsed hours. It is pure: it is built from a set of holidays and a range of
years it is complete for (or from the `holidays` package with `england_and_wales`), never reads
the clock, and refuses a date outside its years rather than guess.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as _holidays
from pydantic import BaseModel, ConfigDict, model_validator

LONDON = ZoneInfo("Europe/London")
END_OF_DAY = time(23, 59, 59)
SCHOOL_DAY_STARTS = time(8, 30)
"""When a school day is taken to start, for "before the next school day" (one school's bell)."""

_SATURDAY = 5


class CalendarRangeError(ValueError):
    """A date falls outside the years the calendar holds bank holidays for."""


class OfficeHours(BaseModel):
    """The daily window working hours are counted in, as Europe/London wall-clock times."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opens: time = time(9, 0)
    closes: time = time(17, 0)

    @model_validator(mode="after")
    def _opens_before_closes(self) -> OfficeHours:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("office hours are wall-clock times without a time zone")
        if self.opens >= self.closes:
            raise ValueError(
                f"office hours must open before they close: {self.opens}–{self.closes}"
            )
        return self


DEFAULT_OFFICE_HOURS = OfficeHours()
"""The front door's office hours (DOMAIN.md §4: out of hours is 17:00–09:00 weekdays): the one
home every service reads (SLA working hours, screening, out-of-hours shifts)."""

TRIAGE_WINDOW_HOURS: dict[str, float] = {"red": 4.0, "amber": 24.0, "green": 72.0}
"""MASH triage windows (DOMAIN.md §2, [LP], one force's example): ELAPSED hours from the
notification, not office hours; red is worked to completion even out of hours, so it counts from
the notification at any hour. The one home: SLA's `triage_window` deadline and screening's
`screening_due_at` both call `triage_due_at`."""

ENCOMPASS_AGE_RANGE: tuple[int, int] = (4, 17)
"""Operation Encompass covers children of school age, reception (age 4) to 17 incl. FE colleges
(DOMAIN.md §2), in whole years at the incident, both ends included. Read by screening and SLA."""


def triage_due_at(notified_at: datetime, priority: str) -> datetime:
    """When a triaged notification must be screened: `notified_at` + its window, elapsed hours.

    DOMAIN.md §2: red 4 h, amber 24 h, green 72 h from the notification, whatever the hour.
    `ValueError` for a priority without a window.
    """
    try:
        hours = TRIAGE_WINDOW_HOURS[priority]
    except KeyError:
        known = ", ".join(TRIAGE_WINDOW_HOURS)
        raise ValueError(f"no triage window for priority {priority!r} (known: {known})") from None
    return add_hours(notified_at, hours)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got naive {moment.isoformat()}")


def to_london(moment: datetime) -> datetime:
    """The same instant on Europe/London wall-clock time."""
    _require_aware(moment)
    return moment.astimezone(LONDON)


def london_wall_time(day: date, at: time) -> datetime:
    """`at` on `day` in Europe/London, tz-aware; a time skipped by the spring change moves on."""
    naive = datetime.combine(day, at)
    # Round-tripping through UTC normalises a wall time in the spring-forward gap (01:30 on the
    # last Sunday of March does not exist) to the real instant it names.
    return naive.replace(tzinfo=LONDON).astimezone(UTC).astimezone(LONDON)


def end_of_day(day: date) -> datetime:
    """23:59:59 Europe/London on `day`, the moment a day-based deadline falls due."""
    return london_wall_time(day, END_OF_DAY)


def shift_months(day: date, n: int) -> date:
    """`day` moved by `n` calendar months, clamped to month end (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.year * 12 + (day.month - 1) + n
    year, month = divmod(month_index, 12)
    last = _gregorian.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_months(start: datetime, n: int) -> datetime:
    """`start` plus `n` calendar months at the same London wall-clock time (review clocks)."""
    local = to_london(start)
    return london_wall_time(shift_months(local.date(), n), local.time())


def add_hours(start: datetime, hours: float) -> datetime:
    """`start` plus real elapsed hours (72 h police protection), on London time.

    Across a clock change this is elapsed time, not wall time: 72 hours from Friday 10:00 GMT
    before the spring change ends on Monday 11:00 BST.
    """
    _require_aware(start)
    return (start.astimezone(UTC) + timedelta(hours=hours)).astimezone(LONDON)


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Working days and deadline arithmetic for England & Wales on Europe/London time.

    `bank_holidays` must hold every bank holiday in `first_year`..`last_year` (inclusive); any
    date outside those years raises `CalendarRangeError` instead of being silently treated as a
    working day.
    """

    bank_holidays: frozenset[date] = field(repr=False)
    first_year: int
    last_year: int

    @classmethod
    def from_holidays(cls, bank_holidays: Iterable[date], *, years: range) -> WorkingCalendar:
        """A calendar from an explicit holiday list, complete for `years` (a step-1 range)."""
        if years.step != 1 or len(years) == 0:
            raise ValueError("years must be a non-empty range with step 1")
        return cls(frozenset(bank_holidays), years.start, years.stop - 1)

    @classmethod
    def england_and_wales(cls, first_year: int = 2005, last_year: int = 2040) -> WorkingCalendar:
        """The England & Wales bank holidays from the `holidays` package, one-off days included."""
        years = range(first_year, last_year + 1)
        table = _holidays.country_holidays("GB", subdiv="ENG", years=years)
        return cls.from_holidays(table.keys(), years=years)

    # -- days ---------------------------------------------------------------------------------

    def _check(self, day: date) -> None:
        if not self.first_year <= day.year <= self.last_year:
            raise CalendarRangeError(
                f"{day.isoformat()} is outside the calendar's years "
                f"{self.first_year}–{self.last_year}"
            )

    def is_bank_holiday(self, day: date) -> bool:
        """Whether `day` is an England & Wales bank holiday (substitute days included)."""
        self._check(day)
        return day in self.bank_holidays

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a bank holiday."""
        self._check(day)
        return day.weekday() < _SATURDAY and day not in self.bank_holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        return self.add_working_days(day, 1)

    def add_working_days(self, start: date, n: int) -> date:
        """The `n`th working day after `start` (before it when `n` is negative); day 0 is `start`.

        DOMAIN.md §2: the start day is day 0 and +N WD is the Nth working day after it, so
        Wednesday 5 June 2024 + 15 WD is Wednesday 26 June 2024. `n == 0` returns `start` as is.

        A start on a weekend or bank holiday is read literally too: the Nth working day after it,
        so Saturday + 1 WD is the Monday (the first working day after the Saturday). We chose
        this over rolling the start forward to Monday as day 0 (which would make it Tuesday)
        because it is the plain reading of the convention, it never gives a weekend start a later
        deadline than the Friday evening before it (Friday 18:00 + 1 WD and Saturday + 1 WD both
        fall due on Monday), and when in doubt a child's clock should run short, not long.
        """
        self._check(start)
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        day = start
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def due_end_of_day(self, start: datetime, n_working_days: int) -> datetime:
        """23:59:59 London on the `n_working_days`th working day after `start`'s London date."""
        local_day = to_london(start).date()
        return end_of_day(self.add_working_days(local_day, n_working_days))

    # -- hours --------------------------------------------------------------------------------

    def is_office_hours(self, moment: datetime, office: OfficeHours = DEFAULT_OFFICE_HOURS) -> bool:
        """Whether `moment` is on a working day inside office hours (opening inclusive)."""
        local = to_london(moment)
        return self.is_working_day(local.date()) and office.opens <= local.time() < office.closes

    def add_working_hours(
        self, start: datetime, hours: float, office: OfficeHours = DEFAULT_OFFICE_HOURS
    ) -> datetime:
        """`start` plus `hours` counted only inside office hours on working days.

        A start before opening counts from opening that day; a start at or after closing, or on a
        non-working day, counts from opening on the next working day. A window that ends exactly
        at closing ends at closing (13:00 + 4 h is 17:00 the same day). Office hours are wall-clock
        times, so a window over a clock-change weekend still resumes at 09:00 local on Monday.
        """
        if hours < 0:
            raise ValueError(f"working hours must not be negative, got {hours}")
        remaining = timedelta(hours=hours)
        cursor = to_london(start).replace(tzinfo=None)
        while True:
            day = cursor.date()
            opens = datetime.combine(day, office.opens)
            closes = datetime.combine(day, office.closes)
            if not self.is_working_day(day) or cursor >= closes:
                cursor = datetime.combine(self.next_working_day(day), office.opens)
                continue
            cursor = max(cursor, opens)
            available = closes - cursor
            if remaining <= available:
                end = cursor + remaining
                return london_wall_time(end.date(), end.time())
            remaining -= available
            cursor = datetime.combine(self.next_working_day(day), office.opens)

    def next_working_day_at(self, start: datetime, at: time) -> datetime:
        """The first `at` (London wall time) on a working day strictly after `start`.

        The out-of-hours handover rule: work done on Monday at 22:00 or Tuesday at 02:00 is
        handed over by Tuesday 09:00; work on Saturday, by Monday 09:00 (Tuesday after a bank
        holiday Monday).
        """
        local = to_london(start)
        day = local.date()
        if self.is_working_day(day) and local.time() < at:
            return london_wall_time(day, at)
        return london_wall_time(self.next_working_day(day), at)

    def next_school_day(self, start: datetime, *, starts_at: time = SCHOOL_DAY_STARTS) -> datetime:
        """The start of the next school day after `start` (Operation Encompass).

        School days are modelled as working days: term dates, INSET days and half terms are out
        of scope (they differ per school and are not published as data we hold), so during a
        school holiday the deadline is earlier than the real one, never later. An incident on
        Tuesday at 02:00 must reach the school before Tuesday `starts_at`; one at Tuesday 10:00,
        before Wednesday `starts_at`.
        """
        return self.next_working_day_at(start, starts_at)

    # -- the DfE convention -------------------------------------------------------------------

    def dfe_working_days_between(self, a: date, b: date) -> int:
        """Working days from `a` to `b`, both included: the DfE CIN validator's count.

        The DfE convention counts the start day as day 1 (a working start) where ours counts it as
        day 0, so Wednesday 5 June 2024 to Tuesday 25 June 2024 is 15 here. Used only to annotate
        exports such as `InitialCPCtarget`; deadlines use `add_working_days`.
        """
        if b < a:
            raise ValueError(f"the end {b.isoformat()} is before the start {a.isoformat()}")
        count = 0
        day = a
        while day <= b:
            if self.is_working_day(day):
                count += 1
            day += timedelta(days=1)
        return count

    def dfe_target_date(self, start: date, n: int) -> date:
        """The date the DfE convention calls `n` working days from `start` (start day is day 1).

        Wednesday 5 June 2024 with n = 15 gives Tuesday 25 June 2024 (ours: Wednesday 26 June).
        """
        if n < 1:
            raise ValueError(f"the DfE count starts at day 1, got {n}")
        if self.is_working_day(start):
            return self.add_working_days(start, n - 1)
        # The validator adds pandas CustomBusinessDay(n - 1): from a weekend or bank holiday its
        # first step lands on the next working day, which is therefore day 2's step, not day 1's
        # (Sat 8 Jun 2024 + 15 → Thu 27 Jun: Mon 10 is reached by step 1 of 14). CBD(0) rolls
        # forward to the next working day too, so n = 1 and n = 2 agree.
        return self.add_working_days(self.next_working_day(start), max(n - 2, 0))
