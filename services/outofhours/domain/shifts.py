"""The out-of-hours shift ("night"): 17:00 on a working day to 09:00 on the next working day.

DOMAIN.md §4: the emergency duty team covers weekday evenings and nights, all weekend and bank
holidays, so a weekend or a bank holiday is part of one long shift (Friday 17:00 → Monday 09:00;
Friday 17:00 → Tuesday 09:00 before a bank holiday Monday). A shift is named by the London date it
starts on (``--night 2024-06-07`` is that Friday's shift). A moment inside office hours belongs to
the shift that starts when the office closes that day: a day team's alert raised at 15:00 is for
tonight. Office hours come from configuration (default 09:00–17:00); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict

from services.common.calendar import OfficeHours, WorkingCalendar, london_wall_time, to_london


class Shift(BaseModel):
    """One out-of-hours shift: from the office closing to its opening on the next working day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    starts_at: datetime
    ends_at: datetime

    @property
    def night(self) -> date:
        """The London date the shift starts on, its name."""
        return to_london(self.starts_at).date()

    def contains(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


ShiftOf = Callable[[datetime], Shift]
"""The shift a moment belongs to (``shift_for`` with the calendar and office hours bound)."""


def _shift_from(day: date, calendar: WorkingCalendar, office: OfficeHours) -> Shift:
    starts = london_wall_time(day, office.closes)
    return Shift(starts_at=starts, ends_at=calendar.next_working_day_at(starts, office.opens))


def _last_working_day_before(day: date, calendar: WorkingCalendar) -> date:
    return calendar.add_working_days(day, -1)


def shift_for(moment: datetime, calendar: WorkingCalendar, office: OfficeHours) -> Shift:
    """The shift a moment belongs to: the one it falls in, or (in office hours) tonight's."""
    local = to_london(moment)
    day, at = local.date(), local.time()
    if calendar.is_working_day(day) and at >= office.opens:
        return _shift_from(day, calendar, office)  # after closing, or office hours: tonight's
    return _shift_from(_last_working_day_before(day, calendar), calendar, office)


def shift_of_night(night: date, calendar: WorkingCalendar, office: OfficeHours) -> Shift:
    """The shift named by a date: the one starting that day, or the one a non-working day is in."""
    if calendar.is_working_day(night):
        return _shift_from(night, calendar, office)
    return _shift_from(_last_working_day_before(night, calendar), calendar, office)


def shift_to_hand_over(moment: datetime, calendar: WorkingCalendar, office: OfficeHours) -> Shift:
    """The shift whose handover is owed at ``moment``.

    Out of hours it is the shift under way (the duty worker hands over before 09:00); in office
    hours it is the shift that ended when the office opened this morning.
    """
    current = shift_for(moment, calendar, office)
    if current.contains(moment):
        return current
    opened = london_wall_time(to_london(moment).date(), office.opens)
    return shift_for(opened - timedelta(seconds=1), calendar, office)


def shift_to_publish(
    moment: datetime, calendar: WorkingCalendar, office: OfficeHours, publish_at: time
) -> Shift | None:
    """The shift whose handover should go out at ``moment``, if any (the automatic handover).

    From ``publish_at`` on the morning a shift ends (never later than its end) until the office
    closes that day; ``None`` earlier in the night.
    """
    shift = shift_to_hand_over(moment, calendar, office)
    if not shift.contains(moment):
        return shift
    ends = to_london(shift.ends_at)
    publish_from = min(london_wall_time(ends.date(), publish_at), shift.ends_at)
    return shift if moment >= publish_from else None
