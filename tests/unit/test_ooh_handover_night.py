"""Which night ``frontdoor ooh handover`` shows when no ``--night`` is named (issue 12 §6)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.common.calendar import LONDON, OfficeHours, WorkingCalendar
from services.outofhours.domain.handover import night_to_hand_over
from services.outofhours.domain.shifts import Shift, shift_for, shift_to_hand_over

CAL = WorkingCalendar.england_and_wales(2024, 2025)
OFFICE = OfficeHours()
TUESDAY_1000 = datetime(2024, 6, 11, 10, tzinfo=LONDON)
OWED = shift_to_hand_over(TUESDAY_1000, CAL, OFFICE)  # Monday 17:00 → Tuesday 09:00


def shift_of(moment: datetime) -> Shift:
    return shift_for(moment, CAL, OFFICE)


def test_the_owed_night_is_shown_when_it_had_activity() -> None:
    assert night_to_hand_over(OWED, OWED.starts_at, shift_of) == OWED


def test_a_quiet_night_hands_over_the_most_recent_night_with_activity() -> None:
    friday = shift_of(datetime(2024, 6, 7, 22, tzinfo=LONDON))  # Friday 17:00 → Monday 09:00
    chosen = night_to_hand_over(OWED, friday.starts_at, shift_of)
    assert chosen == friday
    assert chosen.night.isoformat() == "2024-06-07"
    assert chosen.ends_at == datetime(2024, 6, 10, 9, tzinfo=LONDON)


def test_a_replayed_history_months_ago_is_found() -> None:
    may = shift_of(datetime(2024, 5, 1, 23, tzinfo=LONDON))
    assert night_to_hand_over(OWED, may.starts_at, shift_of) == may


def test_nothing_recorded_at_all_keeps_the_owed_night() -> None:
    assert night_to_hand_over(OWED, None, shift_of) == OWED


def test_a_later_night_than_the_owed_one_is_never_chosen() -> None:
    later = OWED.starts_at + timedelta(days=1)
    assert night_to_hand_over(OWED, later, shift_of) == OWED
