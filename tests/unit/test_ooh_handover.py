"""The handover: per child, most urgent first, with reasons; a 09:00 clock the day team's
acknowledgement meets (the wt2013 `ooh_handover` policy)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from schemas.codes import Urgency
from schemas.events.outofhours import OohActionKind, OohHandoverPublished
from schemas.events.sla import TimerKind
from schemas.events.triage import CrisisReason
from schemas.registry import parse_event
from services.common.calendar import LONDON, OfficeHours, WorkingCalendar
from services.outofhours.domain.handover import (
    acknowledgement_event,
    handover_events,
    handover_id_for,
    handover_parts,
)
from services.outofhours.domain.record import ActionEntry, CrisisItem, NightRecord
from services.outofhours.domain.shifts import Shift, shift_for
from services.sla.domain.lifecycle import apply_event
from services.sla.domain.timers import TimerStatus
from services.sla.policies import load_policy

CAL = WorkingCalendar.england_and_wales(2024, 2025)
FRIDAY_NIGHT = shift_for(datetime(2024, 6, 7, 22, tzinfo=LONDON), CAL, OfficeHours())
SATURDAY_0300 = datetime(2024, 6, 8, 3, tzinfo=LONDON)


def item(
    child: str, urgency: Urgency, *, minutes: int = 0, acknowledged: bool = False
) -> CrisisItem:
    at = SATURDAY_0300 + timedelta(minutes=minutes)
    return CrisisItem(
        event_id=uuid.uuid4(), crisis_id=uuid.uuid4(), child_id=child,
        reason=CrisisReason.MISSING_CHILD, urgency=urgency, explanation="Missing from home",
        trigger_event_id=uuid.uuid4(), trigger_event_type="child.missing_reported",
        happened_at=at, raised_at=at,
        acknowledged_at=at + timedelta(minutes=5) if acknowledged else None,
        acknowledged_by="EDT01" if acknowledged else None,
    )  # fmt: skip


def action(child: str, urgency: Urgency, *, minutes: int = 30) -> ActionEntry:
    return ActionEntry(
        event_id=uuid.uuid4(), action_id=uuid.uuid4(), child_id=child,
        action_at=SATURDAY_0300 + timedelta(minutes=minutes), kind=OohActionKind.WELFARE_CHECK,
        urgency=urgency, summary="Police welfare check; child safe.",
        decision_reason="Safe with grandmother until Monday.", worker="EDT01",
    )  # fmt: skip


def night(*entries: CrisisItem | ActionEntry, shift: Shift = FRIDAY_NIGHT) -> NightRecord:
    return NightRecord(
        shift=shift,
        items=tuple(e for e in entries if isinstance(e, CrisisItem)),
        actions=tuple(e for e in entries if isinstance(e, ActionEntry)),
    )


def test_children_are_ranked_most_urgent_first() -> None:
    record = night(
        item("C-routine", Urgency.ROUTINE),
        item("C-today", Urgency.TODAY),
        action("C-immediate", Urgency.IMMEDIATE),
    )
    parts = handover_parts(record)
    assert [(p.rank, p.child_id) for p in parts] == [
        (1, "C-immediate"), (2, "C-today"), (3, "C-routine"),
    ]  # fmt: skip


def test_a_child_is_as_urgent_as_its_most_urgent_item_or_action() -> None:
    (part,) = handover_parts(night(item("C1", Urgency.ROUTINE), action("C1", Urgency.TODAY)))
    assert part.urgency is Urgency.TODAY
    assert len(part.items) == 1
    assert len(part.actions) == 1


def test_at_the_same_urgency_an_unacknowledged_item_comes_before_handled_ones() -> None:
    record = night(
        item("C-seen", Urgency.IMMEDIATE, minutes=0, acknowledged=True),
        item("C-waiting", Urgency.IMMEDIATE, minutes=60),
    )
    assert [p.child_id for p in handover_parts(record)] == ["C-waiting", "C-seen"]
    assert handover_parts(record)[0].unacknowledged == 1


def test_each_part_is_due_at_the_end_of_the_shift_and_carries_the_reasons_for_decisions() -> None:
    record = night(item("C1", Urgency.IMMEDIATE), action("C1", Urgency.IMMEDIATE))
    (event,) = handover_events(record, team="MASH", at=datetime(2024, 6, 10, 7, tzinfo=LONDON))
    parsed = parse_event(event.model_dump(mode="json"))
    assert isinstance(parsed, OohHandoverPublished)
    p = parsed.payload
    assert p.due_by.isoformat() == "2024-06-10T09:00:00+01:00"  # Friday night → Monday 09:00
    assert p.shift_started_at.isoformat() == "2024-06-07T17:00:00+01:00"
    assert p.handover_id == handover_id_for(FRIDAY_NIGHT)
    assert p.actions[0].decision_reason == "Safe with grandmother until Monday."
    assert p.crises[0].reason is CrisisReason.MISSING_CHILD
    assert p.crises[0].acknowledged_at is None


def test_a_child_with_only_an_unacknowledged_item_is_still_handed_over() -> None:
    (event,) = handover_events(night(item("C1", Urgency.TODAY)), team="MASH", at=SATURDAY_0300)
    assert event.payload.actions == ()
    assert len(event.payload.crises) == 1


def test_publishing_the_same_handover_twice_gives_the_same_ids_and_news_gives_new_ones() -> None:
    first_item = item("C1", Urgency.TODAY)
    record = night(first_item)
    at = datetime(2024, 6, 10, 8, tzinfo=LONDON)
    first = handover_events(record, team="MASH", at=at)
    again = handover_events(record, team="MASH", at=at + timedelta(minutes=5))
    later = handover_events(night(first_item, action("C1", Urgency.TODAY)), team="MASH", at=at)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert later[0].event_id != first[0].event_id
    assert later[0].payload.handover_id == first[0].payload.handover_id


def test_an_empty_night_has_no_handover_parts() -> None:
    assert handover_events(night(), team="MASH", at=SATURDAY_0300) == []


# -- the SLA clock it starts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "due"),
    [
        (datetime(2024, 6, 10, 7, 30, tzinfo=LONDON), "2024-06-10T09:00:00+01:00"),
        (datetime(2024, 6, 10, 10, 30, tzinfo=LONDON), "2024-06-10T09:00:00+01:00"),  # late
    ],
)
def test_the_handover_starts_a_clock_due_at_0900_on_the_next_working_day(
    published: datetime, due: str
) -> None:
    policy = load_policy("wt2013")
    (event,) = handover_events(night(item("C1", Urgency.TODAY)), team="MASH", at=published)
    (change,) = apply_event(policy, event, live_timers=[], calendar=CAL)
    timer = change.after
    assert timer.kind == TimerKind.OOH_HANDOVER.value
    assert timer.due_at.isoformat() == due
    assert timer.started_at == FRIDAY_NIGHT.starts_at


def test_the_day_teams_acknowledgement_meets_the_handover_clock() -> None:
    policy = load_policy("wt2013")
    (event,) = handover_events(night(item("C1", Urgency.TODAY)), team="MASH", at=SATURDAY_0300)
    (started,) = apply_event(policy, event, live_timers=[], calendar=CAL)
    ack = acknowledgement_event(
        event.payload.handover_id, "C1", team="MASH", worker="DT01",
        at=datetime(2024, 6, 10, 8, 45, tzinfo=LONDON),
    )  # fmt: skip
    parsed = parse_event(ack.model_dump(mode="json"))
    (met,) = apply_event(policy, parsed, live_timers=[started.after], calendar=CAL)
    assert met.after.status is TimerStatus.MET
    assert met.after.met_at == datetime(2024, 6, 10, 8, 45, tzinfo=LONDON)


def test_another_nights_acknowledgement_does_not_meet_the_clock() -> None:
    policy = load_policy("wt2013")
    (event,) = handover_events(night(item("C1", Urgency.TODAY)), team="MASH", at=SATURDAY_0300)
    (started,) = apply_event(policy, event, live_timers=[], calendar=CAL)
    ack = acknowledgement_event(
        uuid.uuid4(), "C1", team="MASH", worker="DT01", at=datetime(2024, 6, 10, 8, tzinfo=LONDON)
    )
    assert apply_event(policy, ack, live_timers=[started.after], calendar=CAL) == []


def test_an_acknowledgement_id_is_one_per_night_and_child() -> None:
    handover = uuid.uuid4()
    a = acknowledgement_event(handover, "C1", team="MASH", worker="A", at=SATURDAY_0300)
    b = acknowledgement_event(handover, "C1", team="MASH", worker="B", at=SATURDAY_0300)
    c = acknowledgement_event(handover, "C2", team="MASH", worker="A", at=SATURDAY_0300)
    assert a.event_id == b.event_id != c.event_id
