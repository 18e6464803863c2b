"""Office hours, working-hour windows, clock changes, handover and school-day rules, months, hours.

Every expected instant below was worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.common.calendar import (
    LONDON,
    OfficeHours,
    WorkingCalendar,
    add_hours,
    add_months,
    shift_months,
)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2010, 2026)


def at(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=LONDON)


# -- clock-change weekends ----------------------------------------------------------------------


def test_due_end_of_day_after_spring_change_is_bst(cal: WorkingCalendar) -> None:
    # Clocks went forward on Sunday 30 March 2025.
    due = cal.due_end_of_day(datetime(2025, 3, 28, 14, 0, tzinfo=UTC), 1)
    assert due.isoformat() == "2025-03-31T23:59:59+01:00"


def test_due_end_of_day_after_autumn_change_is_gmt(cal: WorkingCalendar) -> None:
    # Clocks went back on Sunday 26 October 2025.
    due = cal.due_end_of_day(at(2025, 10, 24, 14), 1)
    assert due.isoformat() == "2025-10-27T23:59:59+00:00"


def test_working_hours_over_spring_change_resume_at_0900_bst(cal: WorkingCalendar) -> None:
    start = at(2025, 3, 28, 15)
    due = cal.add_working_hours(start, 4)
    assert due.isoformat() == "2025-03-31T11:00:00+01:00"
    # Real time: one hour less than in an ordinary week (subtract in UTC: same-zone subtraction
    # in Python is wall-clock).
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=67)


def test_working_hours_over_autumn_change_resume_at_0900_gmt(cal: WorkingCalendar) -> None:
    start = at(2025, 10, 24, 16)
    due = cal.add_working_hours(start, 2)
    assert due.isoformat() == "2025-10-27T10:00:00+00:00"
    # 17:00 BST Friday → 09:00 GMT Monday is 65 real hours, plus the 2 working hours.
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=67)


# -- working-hour windows -----------------------------------------------------------------------


def test_red_window_inside_office_hours_runs_over_to_the_next_morning(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 11, 14), 4) == at(2024, 6, 12, 10)


def test_window_ending_exactly_at_closing_ends_at_1700_same_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 11, 13), 4) == at(2024, 6, 11, 17)


def test_start_after_1700_counts_from_0900_next_working_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 11, 18, 30), 4) == at(2024, 6, 12, 13)


def test_start_at_exactly_1700_counts_from_0900_next_working_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 11, 17), 4) == at(2024, 6, 12, 13)


def test_start_before_0900_counts_from_0900_same_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 11, 7), 4) == at(2024, 6, 11, 13)


def test_friday_afternoon_red_window_ends_monday(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 14, 16), 4) == at(2024, 6, 17, 12)


def test_amber_24_working_hours_is_three_office_days(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 10, 10), 24) == at(2024, 6, 13, 10)


def test_green_72_working_hours_is_nine_office_days(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2024, 6, 10, 10), 72) == at(2024, 6, 21, 10)


def test_working_hours_skip_christmas_2022_holidays(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2022, 12, 23, 15), 4) == at(2022, 12, 28, 11)


def test_working_hours_use_configured_office_hours(cal: WorkingCalendar) -> None:
    office = OfficeHours(opens=time(8, 0), closes=time(18, 0))
    assert cal.add_working_hours(at(2024, 6, 11, 17, 30), 1, office) == at(2024, 6, 12, 8, 30)


def test_office_hours_must_open_before_they_close() -> None:
    with pytest.raises(ValueError, match="open before"):
        OfficeHours(opens=time(17, 0), closes=time(9, 0))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2024, 6, 11, 9), True),
        (at(2024, 6, 11, 16, 59, 59), True),
        (at(2024, 6, 11, 17), False),
        (at(2024, 6, 11, 8, 59), False),
        (at(2024, 6, 8, 10), False),  # Saturday
        (at(2024, 5, 27, 10), False),  # spring bank holiday
        (datetime(2024, 6, 11, 8, 30, tzinfo=UTC), True),  # 09:30 BST
    ],
)
def test_is_office_hours(cal: WorkingCalendar, moment: datetime, expected: bool) -> None:
    assert cal.is_office_hours(moment) is expected


# -- handover and school day --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (at(2024, 6, 10, 22), at(2024, 6, 11, 9)),  # Monday night → Tuesday
        (at(2024, 6, 11, 2), at(2024, 6, 11, 9)),  # small hours → same morning
        (at(2024, 6, 11, 9), at(2024, 6, 12, 9)),  # at 09:00 the next one is tomorrow
        (at(2024, 6, 8, 3), at(2024, 6, 10, 9)),  # Saturday → Monday
        (at(2024, 5, 25, 23), at(2024, 5, 28, 9)),  # bank holiday weekend → Tuesday
    ],
)
def test_ooh_handover_is_0900_next_working_day(
    cal: WorkingCalendar, start: datetime, expected: datetime
) -> None:
    assert cal.next_working_day_at(start, time(9, 0)) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (at(2024, 6, 11, 2), at(2024, 6, 11, 8, 30)),
        (at(2024, 6, 11, 10), at(2024, 6, 12, 8, 30)),
        (at(2024, 6, 14, 19), at(2024, 6, 17, 8, 30)),
        (at(2024, 3, 28, 20), at(2024, 4, 2, 8, 30)),  # Easter, and the clocks went forward
    ],
)
def test_operation_encompass_is_before_the_next_school_day(
    cal: WorkingCalendar, start: datetime, expected: datetime
) -> None:
    assert cal.next_school_day(start) == expected


# -- calendar months and real hours -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 10, 15), 3, date(2025, 1, 15)),
    ],
)
def test_calendar_months_clamp_to_the_end_of_the_month(
    start: date, months: int, expected: date
) -> None:
    assert shift_months(start, months) == expected


def test_add_months_keeps_london_wall_clock_time_across_a_clock_change() -> None:
    first_review = add_months(at(2024, 1, 15, 10), 3)
    assert first_review.isoformat() == "2024-04-15T10:00:00+01:00"


def test_police_protection_72_hours_is_real_elapsed_time_across_spring_change() -> None:
    assert add_hours(at(2025, 3, 28, 10), 72).isoformat() == "2025-03-31T11:00:00+01:00"


def test_police_protection_72_hours_in_an_ordinary_week() -> None:
    assert add_hours(at(2024, 6, 10, 14), 72) == at(2024, 6, 13, 14)
