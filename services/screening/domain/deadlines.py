"""The calendar as triage needs it: the screening deadline and "out of hours".

Triage itself (``triage.py``) takes the deadline as a function and "out of hours" as a flag, so
the rules never know about bank holidays. The deadline is the MASH triage window in ELAPSED hours
from the notification (DOMAIN.md §2: red 4, amber 24, green 72; red is worked to completion even
out of hours), from its one home, ``services.common.calendar.triage_due_at`` — the function the
SLA's triage clock uses too; blue ("not shared") is given green's window. "Out of hours" is the
England & Wales working-day calendar and the office hours. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.codes import TriagePriority
from services.common.calendar import OfficeHours, WorkingCalendar, triage_due_at


def triage_window_deadline(priority: TriagePriority, received_at: datetime) -> datetime:
    """Screening is due the priority's elapsed-hours window after the contact was received."""
    window = TriagePriority.GREEN if priority is TriagePriority.BLUE else priority
    return triage_due_at(received_at, window.value)


def office_hours_test(calendar: WorkingCalendar, office: OfficeHours) -> Callable[[datetime], bool]:
    """Whether a moment is inside office hours on a working day (else: out of hours)."""
    return lambda moment: calendar.is_office_hours(moment, office)
