"""Deadline units, warning rules and trigger conditions: the pieces a policy is written in.

Anchor for the deadline table: Wednesday 5 June 2024, 10:00 BST. Every expected instant is by hand.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from services.common.calendar import DEFAULT_OFFICE_HOURS, LONDON, WorkingCalendar
from services.sla.domain.deadlines import Deadline, WarnBefore
from services.sla.domain.triggers import (
    Condition,
    TimerAction,
    Trigger,
    TriggerError,
    Verb,
    field_value,
)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2026)


ANCHOR = datetime(2024, 6, 5, 10, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ({"working_days": 15}, "2024-06-26T23:59:59+01:00"),
        ({"working_days": -2}, "2024-06-03T23:59:59+01:00"),
        ({"working_hours": 4}, "2024-06-05T14:00:00+01:00"),
        ({"hours": 72}, "2024-06-08T10:00:00+01:00"),
        ({"days": 3}, "2024-06-08T23:59:59+01:00"),
        ({"weeks": 6}, "2024-07-17T23:59:59+01:00"),
        ({"calendar_months": 3}, "2024-09-05T23:59:59+01:00"),
        ({"next_working_day_at": "09:00"}, "2024-06-06T09:00:00+01:00"),
        ({"next_school_day": "08:30"}, "2024-06-06T08:30:00+01:00"),
    ],
)
def test_each_deadline_unit_from_wednesday_5_june_2024(
    cal: WorkingCalendar, unit: dict[str, Any], expected: str
) -> None:
    deadline = Deadline.model_validate(unit)
    assert deadline.due(ANCHOR, cal, DEFAULT_OFFICE_HOURS).isoformat() == expected


@pytest.mark.parametrize("units", [{}, {"working_days": 15, "weeks": 3}])
def test_a_deadline_has_exactly_one_unit(units: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Deadline.model_validate(units)


def test_deadline_describes_itself_in_words() -> None:
    assert Deadline(working_days=15).describe() == "15 working days"
    assert Deadline.model_validate({"next_working_day_at": "09:00"}).describe() == (
        "next working day at 09:00"
    )


# -- warnings -----------------------------------------------------------------------------------


def test_one_working_day_warning_is_at_the_end_of_the_previous_working_day(
    cal: WorkingCalendar,
) -> None:
    due = datetime(2024, 6, 26, 23, 59, 59, tzinfo=LONDON)
    warn_at = WarnBefore(working_days=1).warn_at(due, ANCHOR, cal)
    assert warn_at.isoformat() == "2024-06-25T23:59:59+01:00"


def test_monday_deadline_warns_at_the_end_of_friday(cal: WorkingCalendar) -> None:
    due = datetime(2024, 6, 10, 23, 59, 59, tzinfo=LONDON)
    warn_at = WarnBefore(working_days=1).warn_at(due, datetime(2024, 6, 3, tzinfo=LONDON), cal)
    assert warn_at.isoformat() == "2024-06-07T23:59:59+01:00"


def test_warning_before_easter_tuesday_deadline_is_maundy_thursday_in_gmt(
    cal: WorkingCalendar,
) -> None:
    due = datetime(2024, 4, 2, 23, 59, 59, tzinfo=LONDON)
    warn_at = WarnBefore(working_days=1).warn_at(due, datetime(2024, 3, 20, tzinfo=LONDON), cal)
    assert warn_at.isoformat() == "2024-03-28T23:59:59+00:00"


def test_hours_warning_is_real_hours_before_the_deadline(cal: WorkingCalendar) -> None:
    due = datetime(2024, 6, 5, 14, 0, tzinfo=LONDON)
    assert WarnBefore(hours=1).warn_at(due, ANCHOR, cal).isoformat() == "2024-06-05T13:00:00+01:00"


def test_warning_is_never_before_the_clock_started(cal: WorkingCalendar) -> None:
    due = datetime(2024, 6, 6, 23, 59, 59, tzinfo=LONDON)
    assert WarnBefore(working_days=2).warn_at(due, ANCHOR, cal) == ANCHOR


# -- conditions ---------------------------------------------------------------------------------


def _event(**payload: Any) -> dict[str, Any]:
    return {"event_type": "x.y", "occurred_at": ANCHOR, "payload": payload}


def test_equals_matches_string_and_bool_values() -> None:
    assert Condition(field="payload.outcome", equals="section_47").holds(
        _event(outcome="section_47"), ANCHOR
    )
    assert not Condition(field="payload.plan", equals=True).holds(_event(plan=False), ANCHOR)


def test_in_matches_any_listed_value() -> None:
    condition = Condition.model_validate({"field": "payload.priority", "in": ["red", "amber"]})
    assert condition.holds(_event(priority="amber"), ANCHOR)
    assert not condition.holds(_event(priority="green"), ANCHOR)


def test_missing_field_fails_equals_and_satisfies_present_false() -> None:
    assert not Condition(field="payload.outcome", equals="x").holds(_event(), ANCHOR)
    assert Condition(field="payload.outcome", present=False).holds(_event(), ANCHOR)
    assert Condition(field="payload.outcome", present=True).holds(_event(outcome="x"), ANCHOR)


@pytest.mark.parametrize(
    ("born", "on", "expected"),
    [
        (date(2020, 6, 6), date(2024, 6, 5), False),  # the day before the 4th birthday
        (date(2020, 6, 5), date(2024, 6, 5), True),  # 4th birthday
        (date(2006, 6, 6), date(2024, 6, 5), True),  # still 17
        (date(2006, 6, 5), date(2024, 6, 5), False),  # 18 today
    ],
)
def test_age_between_counts_whole_years_on_the_trigger_day(
    born: date, on: date, expected: bool
) -> None:
    condition = Condition(field="payload.child.date_of_birth", age_between=(4, 17))
    at = datetime(on.year, on.month, on.day, 12, tzinfo=LONDON)
    assert condition.holds(_event(child={"date_of_birth": born}), at) is expected


def test_a_condition_has_exactly_one_test() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Condition(field="payload.a", equals="x", present=True)


# -- triggers -----------------------------------------------------------------------------------

CONFERENCE = UUID("00000000-0000-4000-8000-000000000001")


def test_composite_subject_joins_fields_with_a_slash() -> None:
    trigger = Trigger.model_validate(
        {
            "event": "conference.invitation_issued",
            "subject": ["payload.conference_id", "payload.agency"],
        }
    )
    action = TimerAction(verb=Verb.START, kind="conference_reports", trigger=trigger)
    event = _event(conference_id=CONFERENCE, agency="police")
    assert action.subject_ref(event) == f"{CONFERENCE}/police"


def test_anchor_falls_back_to_the_next_field_and_reads_a_date_as_london_midnight() -> None:
    trigger = Trigger.model_validate(
        {
            "event": "conference.invitation_issued",
            "subject": "payload.conference_id",
            "anchor": ["payload.conference_at", "payload.icpc_target_date"],
        }
    )
    action = TimerAction(verb=Verb.START, kind="conference_reports", trigger=trigger)
    event = _event(conference_id=CONFERENCE, conference_at=None, icpc_target_date=date(2024, 6, 26))
    assert action.anchor(event) == datetime(2024, 6, 26, 0, 0, tzinfo=LONDON)


def test_moment_reads_iso_strings_from_a_json_dump() -> None:
    trigger = Trigger(
        event="referral.accepted", subject=("payload.referral_id",), at="payload.referral_at"
    )
    action = TimerAction(verb=Verb.START, kind="assessment", trigger=trigger)
    event = _event(referral_at="2024-06-05T09:00:00+00:00")
    assert action.moment(event) == datetime(2024, 6, 5, 10, 0, tzinfo=LONDON)


def test_naive_moments_and_missing_fields_are_refused() -> None:
    trigger = Trigger(
        event="referral.accepted", subject=("payload.referral_id",), at="payload.referral_at"
    )
    action = TimerAction(verb=Verb.START, kind="assessment", trigger=trigger)
    with pytest.raises(TriggerError, match="naive"):
        action.moment(_event(referral_at=datetime(2024, 6, 5, 9, 0)))  # noqa: DTZ001
    with pytest.raises(TriggerError, match=r"payload\.referral_id"):
        action.subject_ref(_event(referral_at=ANCHOR))


def test_field_value_reads_attributes_of_models_too() -> None:
    class Inner:
        referral_id = "R1"

    class Outer:
        payload = Inner()

    assert field_value(Outer(), "payload.referral_id") == "R1"
