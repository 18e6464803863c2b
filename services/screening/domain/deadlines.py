"""The working-day calendar as triage needs it: the screening deadline and "out of hours".

Triage itself (``triage.py``) takes the deadline as a function and "out of hours" as a flag, so
the rules never know about bank holidays. These two build them from the England & Wales
calendar, the office hours and the working-hour windows per priority (``config.py``). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from schemas.codes import TriagePriority
from services.common.calendar import OfficeHours, WorkingCalendar
from services.screening.domain.triage import CalendarDue


def working_hours_deadline(
    calendar: WorkingCalendar, office: OfficeHours, windows: Mapping[TriagePriority, float]
) -> CalendarDue:
    """Screening is due ``windows[priority]`` working hours after the contact was received."""

    def due(priority: TriagePriority, received_at: datetime) -> datetime:
        return calendar.add_working_hours(received_at, windows[priority], office)

    return due


def office_hours_test(calendar: WorkingCalendar, office: OfficeHours) -> Callable[[datetime], bool]:
    """Whether a moment is inside office hours on a working day (else: out of hours)."""
    return lambda moment: calendar.is_office_hours(moment, office)
