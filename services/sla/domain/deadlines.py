"""Deadline and warning rules as policy data, and how each turns a start moment into an instant.

A `Deadline` is exactly one of: `working_days` N (23:59:59 London on the Nth working day after the
start day; negative counts back, for "2 working days before the conference"), `working_hours` N
(inside office hours), `hours` N (real elapsed time), `days` / `weeks` N (calendar days, to the end
of that day), `calendar_months` N (same date N months on, clamped to month end, to the end of that
day), `next_working_day_at` HH:MM (the out-of-hours handover) or `next_school_day` HH:MM (the time
the school day starts; Operation Encompass) or `triage_window` red|amber|green (elapsed hours from
the notification, read from the one home, `services.common.calendar.TRIAGE_WINDOW_HOURS`). A
`WarnBefore` says when to warn: N working days before the due day (at the end of that working day)
or N real hours before the deadline. All the arithmetic is the working-day calendar's; these models
only choose which sum to do.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt, model_validator

from services.common.calendar import (
    OfficeHours,
    WorkingCalendar,
    add_hours,
    end_of_day,
    shift_months,
    to_london,
    triage_due_at,
)


def _exactly_one(model: BaseModel, what: str) -> None:
    chosen = [name for name, value in model if value is not None]
    if len(chosen) != 1:
        names = ", ".join(type(model).model_fields)
        raise ValueError(f"{what} needs exactly one of {names}; got {chosen or 'none'}")


class Deadline(BaseModel):
    """When a clock falls due, counted from its anchor (one unit per deadline)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: int | None = None
    working_hours: PositiveFloat | None = None
    hours: PositiveFloat | None = None
    days: PositiveInt | None = None
    weeks: PositiveInt | None = None
    calendar_months: PositiveInt | None = None
    next_working_day_at: time | None = None
    next_school_day: time | None = None
    triage_window: Literal["red", "amber", "green"] | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> Self:
        _exactly_one(self, "a deadline")
        return self

    def due(  # noqa: PLR0911 - one return per unit reads better than a dispatch table
        self, anchor: datetime, calendar: WorkingCalendar, office: OfficeHours
    ) -> datetime:
        """The instant this deadline falls due for a clock counted from `anchor` (London time)."""
        local = to_london(anchor)
        if self.working_days is not None:
            return calendar.due_end_of_day(local, self.working_days)
        if self.working_hours is not None:
            return calendar.add_working_hours(local, self.working_hours, office)
        if self.hours is not None:
            return add_hours(local, self.hours)
        if self.days is not None:
            return end_of_day(local.date() + timedelta(days=self.days))
        if self.weeks is not None:
            return end_of_day(local.date() + timedelta(weeks=self.weeks))
        if self.calendar_months is not None:
            return end_of_day(shift_months(local.date(), self.calendar_months))
        if self.next_working_day_at is not None:
            return calendar.next_working_day_at(local, self.next_working_day_at)
        if self.next_school_day is not None:
            return calendar.next_school_day(local, starts_at=self.next_school_day)
        assert self.triage_window is not None
        return triage_due_at(local, self.triage_window)

    def describe(self) -> str:
        """The rule in words, for CLI and dashboard tables."""
        for name, value in self:
            if value is not None:
                label = name.replace("_", " ")
                if isinstance(value, time):
                    return f"{label} {value:%H:%M}"
                if isinstance(value, str):
                    return f"{label} {value}"
                return f"{value:g} {label}"
        raise AssertionError("unreachable: validated to hold one unit")


class WarnBefore(BaseModel):
    """How long before its deadline a clock warns: working days (default 1) or real hours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: PositiveInt | None = None
    hours: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> Self:
        _exactly_one(self, "warn_before")
        return self

    def warn_at(
        self, due_at: datetime, started_at: datetime, calendar: WorkingCalendar
    ) -> datetime:
        """When to warn: never before the clock started, never after it falls due.

        `working_days` N warns at the end of the Nth working day before the due day, the moment
        N working days remain (a Wednesday deadline warns at 23:59:59 on Tuesday); `hours` N warns
        N real hours before the deadline.
        """
        if self.working_days is not None:
            due_day = to_london(due_at).date()
            moment = end_of_day(calendar.add_working_days(due_day, -self.working_days))
        else:
            assert self.hours is not None
            moment = add_hours(due_at, -self.hours)
        utc = [moment.astimezone(UTC), started_at.astimezone(UTC), due_at.astimezone(UTC)]
        clamped = min(max(utc[0], utc[1]), utc[2])
        return to_london(clamped)
