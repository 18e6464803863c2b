"""Working-day arithmetic on the England & Wales calendar: the day-0 convention and every edge.

Every expected date below was worked out by hand from the published bank-holiday lists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.calendar import (
    LONDON,
    CalendarRangeError,
    WorkingCalendar,
)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2010, 2026)


def test_worked_example_wednesday_5_june_2024_plus_15_wd_is_wednesday_26_june(
    cal: WorkingCalendar,
) -> None:
    assert cal.add_working_days(date(2024, 6, 5), 15) == date(2024, 6, 26)


def test_due_end_of_day_is_235959_london_on_the_due_day(cal: WorkingCalendar) -> None:
    due = cal.due_end_of_day(datetime(2024, 6, 5, 10, 15, tzinfo=LONDON), 15)
    assert due == datetime(2024, 6, 26, 23, 59, 59, tzinfo=LONDON)
    assert due.utcoffset() == timedelta(hours=1)


def test_due_end_of_day_reads_the_start_date_in_london_not_utc(cal: WorkingCalendar) -> None:
    # 23:30 UTC on Tuesday 4 June is 00:30 BST on Wednesday 5 June: day 0 is the Wednesday.
    due = cal.due_end_of_day(datetime(2024, 6, 4, 23, 30, tzinfo=UTC), 15)
    assert due == datetime(2024, 6, 26, 23, 59, 59, tzinfo=LONDON)


def test_zero_working_days_is_the_start_day_itself(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2024, 6, 5), 0) == date(2024, 6, 5)
    assert cal.add_working_days(date(2024, 6, 8), 0) == date(2024, 6, 8)


def test_friday_plus_one_wd_is_monday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2024, 6, 7), 1) == date(2024, 6, 10)


def test_friday_plus_five_wd_is_the_next_friday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2024, 6, 7), 5) == date(2024, 6, 14)


@pytest.mark.parametrize("weekend_day", [date(2024, 6, 8), date(2024, 6, 9)])
def test_weekend_start_plus_one_wd_is_monday(cal: WorkingCalendar, weekend_day: date) -> None:
    assert cal.add_working_days(weekend_day, 1) == date(2024, 6, 10)


def test_weekend_start_never_gets_a_later_deadline_than_the_friday_before(
    cal: WorkingCalendar,
) -> None:
    friday = cal.add_working_days(date(2024, 6, 7), 3)
    saturday = cal.add_working_days(date(2024, 6, 8), 3)
    assert friday == saturday == date(2024, 6, 12)


def test_bank_holiday_start_counts_from_the_next_working_day(cal: WorkingCalendar) -> None:
    # Monday 27 May 2024 is the spring bank holiday: +1 WD is Tuesday 28 May.
    assert cal.add_working_days(date(2024, 5, 27), 1) == date(2024, 5, 28)


def test_christmas_2021_substitute_days_27_and_28_december_are_skipped(
    cal: WorkingCalendar,
) -> None:
    # Christmas Day and Boxing Day fell on Saturday and Sunday: Mon 27 and Tue 28 were holidays.
    assert cal.add_working_days(date(2021, 12, 24), 1) == date(2021, 12, 29)


def test_new_year_2022_substitute_monday_3_january_is_skipped(cal: WorkingCalendar) -> None:
    # Thu 30 Dec + 2 WD: Fri 31 Dec is day 1, Mon 3 Jan is a holiday, Tue 4 Jan is day 2.
    assert cal.add_working_days(date(2021, 12, 30), 2) == date(2022, 1, 4)


def test_christmas_2022_boxing_day_and_substitute_27_december_are_skipped(
    cal: WorkingCalendar,
) -> None:
    # Christmas Day fell on a Sunday: Mon 26 (Boxing Day) and Tue 27 (substitute) were holidays.
    assert cal.add_working_days(date(2022, 12, 23), 1) == date(2022, 12, 28)


def test_new_year_2023_substitute_monday_2_january_is_skipped(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2022, 12, 30), 1) == date(2023, 1, 3)


def test_easter_2024_good_friday_and_easter_monday_are_skipped(cal: WorkingCalendar) -> None:
    # Thu 28 Mar + 1 WD: Good Friday 29 Mar, weekend, Easter Monday 1 Apr, so Tue 2 Apr.
    assert cal.add_working_days(date(2024, 3, 28), 1) == date(2024, 4, 2)


def test_easter_2024_due_end_of_day_lands_in_summer_time(cal: WorkingCalendar) -> None:
    # The clocks went forward on Sunday 31 March 2024, inside the Easter weekend.
    due = cal.due_end_of_day(datetime(2024, 3, 28, 10, 0, tzinfo=LONDON), 1)
    assert due == datetime(2024, 4, 2, 23, 59, 59, tzinfo=LONDON)
    assert due.utcoffset() == timedelta(hours=1)


def test_royal_wedding_2011_between_easter_and_may_day_is_skipped(cal: WorkingCalendar) -> None:
    # Thu 21 Apr 2011 + 5 WD: Good Friday 22, Easter Monday 25, then Tue 26 (1), Wed 27 (2),
    # Thu 28 (3), royal wedding Fri 29, May Day Mon 2 May, Tue 3 May (4), Wed 4 May (5).
    assert cal.add_working_days(date(2011, 4, 21), 5) == date(2011, 5, 4)
    assert cal.add_working_days(date(2011, 4, 28), 1) == date(2011, 5, 3)


def test_diamond_jubilee_week_2012_skips_monday_4_and_tuesday_5_june(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2012, 6, 1), 1) == date(2012, 6, 6)


def test_spring_holiday_2012_moved_so_28_may_2012_was_a_working_day(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2012, 5, 28))
    assert cal.add_working_days(date(2012, 5, 25), 1) == date(2012, 5, 28)


def test_platinum_jubilee_2022_skips_thursday_2_and_friday_3_june(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2022, 6, 1), 1) == date(2022, 6, 6)
    assert cal.is_working_day(date(2022, 5, 30))


def test_state_funeral_2022_skips_monday_19_september(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2022, 9, 16), 1) == date(2022, 9, 20)


def test_coronation_2023_skips_monday_8_may(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2023, 5, 5), 1) == date(2023, 5, 9)


@pytest.mark.parametrize(
    "one_off_day",
    [
        date(2011, 4, 29),
        date(2012, 6, 4),
        date(2012, 6, 5),
        date(2022, 6, 2),
        date(2022, 6, 3),
        date(2022, 9, 19),
        date(2023, 5, 8),
    ],
)
def test_one_off_bank_holidays_are_not_working_days(
    cal: WorkingCalendar, one_off_day: date
) -> None:
    assert one_off_day.weekday() < 5
    assert cal.is_bank_holiday(one_off_day)
    assert not cal.is_working_day(one_off_day)


def test_negative_working_days_count_backwards_over_easter(cal: WorkingCalendar) -> None:
    # Tue 2 Apr 2024 − 2 WD: Easter Monday, weekend and Good Friday skipped; Thu 28 (1), Wed 27 (2).
    assert cal.add_working_days(date(2024, 4, 2), -2) == date(2024, 3, 27)
    assert cal.add_working_days(date(2024, 6, 27), -2) == date(2024, 6, 25)


def test_dfe_convention_counts_the_start_day_as_day_one(cal: WorkingCalendar) -> None:
    assert cal.dfe_working_days_between(date(2024, 6, 5), date(2024, 6, 25)) == 15
    assert cal.dfe_working_days_between(date(2024, 6, 5), date(2024, 6, 26)) == 16
    assert cal.dfe_target_date(date(2024, 6, 5), 15) == date(2024, 6, 25)


def test_dfe_target_from_a_saturday_takes_monday_as_day_one(cal: WorkingCalendar) -> None:
    assert cal.dfe_target_date(date(2024, 6, 8), 1) == date(2024, 6, 10)


def test_a_date_outside_the_calendar_years_is_refused_not_guessed(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarRangeError):
        cal.is_working_day(date(2027, 1, 4))
    with pytest.raises(CalendarRangeError):
        cal.add_working_days(date(2026, 12, 31), 1)


def test_calendar_built_from_an_explicit_holiday_set_uses_only_that_set() -> None:
    cal = WorkingCalendar.from_holidays([date(2024, 6, 6)], years=range(2024, 2025))
    assert not cal.is_working_day(date(2024, 6, 6))
    assert cal.is_working_day(date(2024, 12, 25))
    assert cal.add_working_days(date(2024, 6, 5), 1) == date(2024, 6, 7)


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.due_end_of_day(datetime(2024, 6, 5, 10, 0), 1)  # noqa: DTZ001
