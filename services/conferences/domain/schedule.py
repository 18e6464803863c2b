"""When conferences are due and when agencies' reports must reach the parents.

Pure date arithmetic on the working-day calendar (DOMAIN.md §2): the ICPC target is the Nth working
day after the London date of the strategy discussion (day 0 convention), so it is always a working
day; a review's target is the same date N calendar months on (clamped to month end) moved back to
the last working day on or before it, because a conference is never held on a weekend (DfE rule
8875) or a bank holiday, and moving it later would miss the statutory deadline. Reports are due at
23:59:59 London on the Nth working day before the target (or the booked date), never before the
moment the invitation went out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.common.calendar import WorkingCalendar, end_of_day, shift_months, to_london
from services.conferences.domain.rules import ConferenceRules


def icpc_target(started_at: datetime, rules: ConferenceRules, calendar: WorkingCalendar) -> date:
    """The last date the ICPC may be held: +N working days from the strategy discussion."""
    return calendar.add_working_days(to_london(started_at).date(), rules.icpc_working_days)


def last_working_day_on_or_before(day: date, calendar: WorkingCalendar) -> date:
    """`day` itself when it is a working day, else the working day before it."""
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def review_target(after: datetime, months: int, calendar: WorkingCalendar) -> date:
    """The last working day a review may be held: `months` calendar months after `after`."""
    due = shift_months(to_london(after).date(), months)
    return last_working_day_on_or_before(due, calendar)


def reports_due_by(
    target: date,
    issued_at: datetime,
    rules: ConferenceRules,
    calendar: WorkingCalendar,
) -> datetime:
    """When an agency's report must have reached the parents, never before `issued_at`."""
    day = calendar.add_working_days(target, -rules.reports_before_working_days)
    due = end_of_day(day)
    issued = to_london(issued_at)
    return issued if due.astimezone(UTC) < issued.astimezone(UTC) else due
