"""The periods returns cover, as Europe/London dates and the instants that bound them.

Annex A lists 1–5 and 7 cover the six months before the as-of date: from the same day six months
earlier (inclusive) to the as-of date (exclusive) — the history is read as it stood at the start
of the as-of day, the way an inspector asks for it on the morning they arrive. "In the last 12
months" counts use the twelve months before the as-of date the same way. The CIN census year
ending 31 March YYYY runs from 1 April YYYY-1 to 31 March YYYY, both included.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from services.common.calendar import london_wall_time, shift_months, to_london

MIDNIGHT = datetime.min.time()


def london_date(moment: datetime) -> date:
    """The Europe/London calendar date of an aware instant."""
    return to_london(moment).date()


def start_of(day: date) -> datetime:
    """00:00 Europe/London on ``day``."""
    return london_wall_time(day, MIDNIGHT)


class Period(BaseModel):
    """Dates ``first`` to ``last`` inclusive, with the instants that bound them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: date
    last: date

    @cached_property
    def starts_at(self) -> datetime:
        return start_of(self.first)

    @cached_property
    def ends_at(self) -> datetime:
        """The first instant after the period (00:00 London the day after ``last``)."""
        return start_of(date.fromordinal(self.last.toordinal() + 1))

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.starts_at <= moment < self.ends_at

    def holds_date(self, day: date | None) -> bool:
        return day is not None and self.first <= day <= self.last


def months_before(as_of: date, months: int) -> Period:
    """The ``months`` calendar months before ``as_of``, ``as_of`` itself excluded."""
    return Period(first=shift_months(as_of, -months), last=date.fromordinal(as_of.toordinal() - 1))


def census_year(year: int) -> Period:
    """The CIN census collection year ending 31 March ``year``."""
    return Period(first=date(year - 1, 4, 1), last=date(year, 3, 31))
