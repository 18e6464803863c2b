"""The out-of-hours shift: 17:00 on a working day to 09:00 on the next; weekends and bank
holidays are one shift; office-hours moments belong to tonight's shift."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from services.common.calendar import LONDON, OfficeHours, WorkingCalendar
from services.outofhours.domain.shifts import (
    shift_for,
    shift_of_night,
    shift_to_hand_over,
    shift_to_publish,
)

OFFICE = OfficeHours()


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2023, 2026)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "starts", "ends"),
    [
        (at(2024, 6, 10, 22), at(2024, 6, 10, 17), at(2024, 6, 11, 9)),  # Monday night
        (at(2024, 6, 11, 2), at(2024, 6, 10, 17), at(2024, 6, 11, 9)),  # small hours
        (at(2024, 6, 11, 8, 59), at(2024, 6, 10, 17), at(2024, 6, 11, 9)),
        (at(2024, 6, 10, 17), at(2024, 6, 10, 17), at(2024, 6, 11, 9)),  # closing starts it
    ],
)
def test_a_weekday_night_runs_from_1700_to_0900_the_next_morning(
    cal: WorkingCalendar, moment: datetime, starts: datetime, ends: datetime
) -> None:
    shift = shift_for(moment, cal, OFFICE)
    assert (shift.starts_at, shift.ends_at) == (starts, ends)
    assert shift.contains(moment)


@pytest.mark.parametrize(
    "moment",
    [at(2024, 6, 7, 17), at(2024, 6, 7, 23), at(2024, 6, 8, 12), at(2024, 6, 9, 23, 59),
     at(2024, 6, 10, 8, 59)],
)  # fmt: skip
def test_friday_1700_to_monday_0900_is_one_shift(cal: WorkingCalendar, moment: datetime) -> None:
    shift = shift_for(moment, cal, OFFICE)
    assert shift.starts_at == at(2024, 6, 7, 17)
    assert shift.ends_at == at(2024, 6, 10, 9)
    assert shift.night == date(2024, 6, 7)


def test_a_bank_holiday_monday_joins_the_weekend_shift_until_tuesday_0900(
    cal: WorkingCalendar,
) -> None:
    shift = shift_for(at(2024, 5, 27, 12), cal, OFFICE)  # spring bank holiday
    assert shift.starts_at == at(2024, 5, 24, 17)
    assert shift.ends_at == at(2024, 5, 28, 9)


def test_christmas_is_one_shift_from_christmas_eve_to_the_27th(cal: WorkingCalendar) -> None:
    shift = shift_for(at(2024, 12, 25, 12), cal, OFFICE)
    assert (shift.starts_at, shift.ends_at) == (at(2024, 12, 24, 17), at(2024, 12, 27, 9))


def test_the_easter_shift_spans_the_clock_change_on_london_wall_time(
    cal: WorkingCalendar,
) -> None:
    shift = shift_for(at(2024, 3, 31, 3), cal, OFFICE)  # Easter Sunday, clocks just went forward
    assert shift.starts_at.isoformat() == "2024-03-28T17:00:00+00:00"
    assert shift.ends_at.isoformat() == "2024-04-02T09:00:00+01:00"


@pytest.mark.parametrize(
    "moment", [at(2024, 6, 11, 9), at(2024, 6, 11, 15), at(2024, 6, 11, 16, 59)]
)
def test_an_office_hours_moment_belongs_to_tonights_shift(
    cal: WorkingCalendar, moment: datetime
) -> None:
    shift = shift_for(moment, cal, OFFICE)
    assert (shift.starts_at, shift.ends_at) == (at(2024, 6, 11, 17), at(2024, 6, 12, 9))
    assert not shift.contains(moment)


def test_office_hours_are_configuration() -> None:
    cal = WorkingCalendar.england_and_wales(2024, 2024)
    late = OfficeHours(opens=time(8, 30), closes=time(17, 30))
    shift = shift_for(at(2024, 6, 11, 17, 15), cal, late)
    assert (shift.starts_at, shift.ends_at) == (at(2024, 6, 11, 17, 30), at(2024, 6, 12, 8, 30))


@pytest.mark.parametrize(
    ("night", "starts"),
    [
        (date(2024, 6, 7), at(2024, 6, 7, 17)),  # Friday names the weekend shift
        (date(2024, 6, 8), at(2024, 6, 7, 17)),  # so do Saturday and Sunday
        (date(2024, 6, 9), at(2024, 6, 7, 17)),
        (date(2024, 6, 10), at(2024, 6, 10, 17)),
        (date(2024, 5, 27), at(2024, 5, 24, 17)),  # bank holiday Monday
    ],
)
def test_a_night_is_named_by_the_date_its_shift_starts(
    cal: WorkingCalendar, night: date, starts: datetime
) -> None:
    assert shift_of_night(night, cal, OFFICE).starts_at == starts


def test_the_handover_owed_in_office_hours_is_the_night_that_ended_this_morning(
    cal: WorkingCalendar,
) -> None:
    owed = shift_to_hand_over(at(2024, 6, 10, 11), cal, OFFICE)  # Monday 11:00
    assert (owed.starts_at, owed.ends_at) == (at(2024, 6, 7, 17), at(2024, 6, 10, 9))
    assert shift_to_hand_over(at(2024, 6, 10, 23), cal, OFFICE).starts_at == at(2024, 6, 10, 17)


def test_the_automatic_handover_waits_for_the_morning_and_stops_at_closing(
    cal: WorkingCalendar,
) -> None:
    publish_at = time(8, 0)
    assert shift_to_publish(at(2024, 6, 11, 2), cal, OFFICE, publish_at) is None
    morning = shift_to_publish(at(2024, 6, 11, 8), cal, OFFICE, publish_at)
    assert morning is not None
    assert morning.starts_at == at(2024, 6, 10, 17)
    late = shift_to_publish(at(2024, 6, 11, 12), cal, OFFICE, publish_at)  # late, still owed
    assert late == morning
    assert shift_to_publish(at(2024, 6, 11, 18), cal, OFFICE, publish_at) is None
    assert shift_to_publish(at(2024, 6, 8, 9), cal, OFFICE, publish_at) is None  # Saturday
