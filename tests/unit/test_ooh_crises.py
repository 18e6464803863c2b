"""What reaches the crisis stream from casework, how urgent it is, and why it is there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.codes import Urgency
from schemas.envelope import EventBase
from schemas.events.triage import CrisisRaised, CrisisReason
from schemas.registry import parse_event
from services.common.calendar import LONDON, WorkingCalendar
from services.outofhours.domain.crises import (
    EXPLANATION_LIMIT,
    crisis_call,
    crisis_event,
    derived_id,
)
from tests.factories import child_id, envelope

CAL = WorkingCalendar.england_and_wales(2024, 2026)
TUESDAY_0210 = datetime(2025, 3, 4, 2, 10, tzinfo=UTC)
TUESDAY_1100 = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)


def out_of_hours(moment: datetime) -> bool:
    return not CAL.is_office_hours(moment)


def event(event_type: str, payload: dict[str, Any], *, agency: str = "police") -> EventBase:
    return parse_event(envelope(event_type, 1, payload, child=child_id(), agency=agency))


def protection(at: datetime = TUESDAY_0210) -> EventBase:
    return event(
        "police.protection_started",
        {"protection_id": str(uuid.uuid4()), "started_at": at.isoformat(),
         "police_ref": "SYP-1", "summary": "Child found alone at home; parents intoxicated."},
    )  # fmt: skip


def missing(risk: str) -> EventBase:
    return event(
        "child.missing_reported",
        {"missing_id": str(uuid.uuid4()), "reported_at": TUESDAY_0210.isoformat(),
         "last_seen_at": (TUESDAY_0210 - timedelta(hours=3)).isoformat(),
         "missing_from": "care_placement", "risk": risk},
    )  # fmt: skip


def strategy(held: datetime, *, flagged: bool = False, outcome: str = "section_47") -> EventBase:
    return event(
        "strategy_discussion.held",
        {"strategy_id": str(uuid.uuid4()), "referral_id": str(uuid.uuid4()),
         "held_at": held.isoformat(), "held_out_of_hours": flagged,
         "agencies": ["police", "social_care"], "outcome": outcome},
        agency="social_care",
    )  # fmt: skip


def s47(started: datetime, *, flagged: bool = False) -> EventBase:
    return event(
        "s47.started",
        {"s47_id": str(uuid.uuid4()), "strategy_id": str(uuid.uuid4()),
         "referral_id": str(uuid.uuid4()), "started_at": started.isoformat(),
         "held_out_of_hours": flagged},
        agency="social_care",
    )  # fmt: skip


def alert(team: str = "Safeguarding Team 2") -> EventBase:
    return event(
        "ooh.alert_raised",
        {"alert_id": str(uuid.uuid4()), "raised_at": TUESDAY_1100.isoformat(),
         "risk": "Father released from custody tonight; has made threats.",
         "contingency_plan": "If he attends, call police and move the children to grandmother.",
         "expires_at": (TUESDAY_1100 + timedelta(days=2)).isoformat(), "team": team},
        agency="social_care",
    )  # fmt: skip


def test_police_protection_is_always_an_immediate_crisis_even_in_office_hours() -> None:
    for moment in (TUESDAY_0210, TUESDAY_1100):
        call = crisis_call(protection(moment), out_of_hours=out_of_hours)
        assert call is not None
        assert (call.reason, call.urgency) == (CrisisReason.POLICE_PROTECTION, Urgency.IMMEDIATE)
        assert call.happened_at == moment


def test_police_protection_explains_its_72_hour_limit_in_london_time() -> None:
    call = crisis_call(protection(TUESDAY_0210), out_of_hours=out_of_hours)
    assert call is not None
    assert "since Tue 04 Mar 02:10" in call.explanation
    assert "72-hour limit Fri 07 Mar 02:10" in call.explanation


@pytest.mark.parametrize(
    ("risk", "urgency"),
    [("high", Urgency.IMMEDIATE), ("medium", Urgency.IMMEDIATE), ("low", Urgency.TODAY),
     ("no_apparent_risk", Urgency.TODAY)],
)  # fmt: skip
def test_a_missing_child_is_always_a_crisis_and_risk_sets_the_urgency(
    risk: str, urgency: Urgency
) -> None:
    call = crisis_call(missing(risk), out_of_hours=out_of_hours)
    assert call is not None
    assert (call.reason, call.urgency) == (CrisisReason.MISSING_CHILD, urgency)
    assert "care placement" in call.explanation


def test_a_strategy_discussion_in_office_hours_is_not_a_crisis() -> None:
    assert crisis_call(strategy(TUESDAY_1100), out_of_hours=out_of_hours) is None


@pytest.mark.parametrize(
    ("held", "flagged"),
    [(TUESDAY_0210, False), (TUESDAY_1100, True), (datetime(2025, 3, 8, 11, tzinfo=UTC), False)],
)
def test_a_strategy_discussion_held_out_of_hours_is_a_crisis(held: datetime, flagged: bool) -> None:
    call = crisis_call(strategy(held, flagged=flagged), out_of_hours=out_of_hours)
    assert call is not None
    assert call.reason is CrisisReason.OUT_OF_HOURS_STRATEGY
    assert call.urgency is Urgency.IMMEDIATE
    assert "outcome: section 47 enquiry" in call.explanation


def test_an_out_of_hours_strategy_discussion_ending_in_nfa_can_wait_for_the_day_team() -> None:
    call = crisis_call(
        strategy(TUESDAY_0210, outcome="no_further_action"), out_of_hours=out_of_hours
    )
    assert call is not None
    assert call.urgency is Urgency.NEXT_WORKING_DAY


def test_a_section_47_started_out_of_hours_is_an_immediate_crisis_and_in_hours_is_not() -> None:
    night = crisis_call(s47(TUESDAY_0210), out_of_hours=out_of_hours)
    assert night is not None
    assert (night.reason, night.urgency) == (CrisisReason.OUT_OF_HOURS_STRATEGY, Urgency.IMMEDIATE)
    assert crisis_call(s47(TUESDAY_1100), out_of_hours=out_of_hours) is None
    assert crisis_call(s47(TUESDAY_1100, flagged=True), out_of_hours=out_of_hours) is not None


def test_a_day_team_alert_is_a_crisis_item_that_names_the_team_but_not_the_risk() -> None:
    raised = alert()
    call = crisis_call(raised, out_of_hours=out_of_hours)
    assert call is not None
    assert (call.reason, call.urgency) == (CrisisReason.OOH_ALERT, Urgency.TODAY)
    assert "Safeguarding Team 2" in call.explanation
    assert "until Thu 06 Mar 11:00" in call.explanation
    assert "custody" not in call.explanation
    assert "grandmother" not in call.explanation


def test_other_casework_is_not_a_crisis() -> None:
    ended = event(
        "police.protection_ended",
        {"protection_id": str(uuid.uuid4()), "ended_at": TUESDAY_0210.isoformat(),
         "outcome": "returned_home"},
    )  # fmt: skip
    assert crisis_call(ended, out_of_hours=lambda _: True) is None


def test_explanations_carry_no_narrative_and_fit_the_contract() -> None:
    trigger = protection()
    call = crisis_call(trigger, out_of_hours=out_of_hours)
    assert call is not None
    assert "intoxicated" not in call.explanation
    long_team = alert(team="T" * 200)
    long_call = crisis_call(long_team, out_of_hours=out_of_hours)
    assert long_call is not None
    assert "T" * 200 in long_call.explanation  # issue 14: the handover keeps every word
    assert len(long_call.explanation) <= EXPLANATION_LIMIT
    assert not long_call.explanation.endswith("…")


def test_the_crisis_event_ids_derive_from_the_trigger_so_a_retry_republishes_the_same_ids() -> None:
    trigger = protection()
    call = crisis_call(trigger, out_of_hours=out_of_hours)
    assert call is not None
    first = crisis_event(trigger, call, at=TUESDAY_0210 + timedelta(seconds=1))
    again = crisis_event(trigger, call, at=TUESDAY_0210 + timedelta(seconds=9))
    other = crisis_event(protection(), call, at=TUESDAY_0210)
    assert first.event_id == again.event_id == derived_id("crisis.raised", trigger.event_id)
    assert first.payload.crisis_id == again.payload.crisis_id
    assert other.event_id != first.event_id


def test_the_crisis_event_names_its_trigger_and_when_it_happened() -> None:
    trigger = missing("high")
    call = crisis_call(trigger, out_of_hours=out_of_hours)
    assert call is not None
    raised = crisis_event(trigger, call, at=datetime(2025, 3, 4, 3, tzinfo=LONDON))
    round_trip = parse_event(raised.model_dump(mode="json"))
    assert isinstance(round_trip, CrisisRaised)
    assert round_trip.subject == trigger.subject
    assert round_trip.causation_id == trigger.event_id
    assert round_trip.payload.trigger_event_id == trigger.event_id
    assert round_trip.payload.trigger_event_type == "child.missing_reported"
    assert round_trip.payload.trigger_at == TUESDAY_0210
