"""The SLA lifecycle handler at its edges: events read out of order, breaches it records itself,
what it refuses and what it skips. Same pipeline harness and memory store as test_sla_handler.py."""

from __future__ import annotations

import uuid
from uuid import uuid5

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.topics import CASEWORK, CONTACTS, DEADLETTER
from services.common.calendar import WorkingCalendar
from services.common.deadletter import Origin, header_map
from services.common.publishing import OutRecord
from services.sla.domain.announcements import Cause
from services.sla.domain.clocks import ChildClocks, EarlyEvent
from services.sla.domain.policies import parse_policy
from services.sla.domain.timers import TimerStatus, breach
from services.sla.domain.triggers import TriggerError
from services.sla.policies import load_policy
from tests.factories import contact
from tests.unit.test_sla_handler import (
    GROUP,
    Rig,
    case_closed,
    decision,
    make_rig,
    referral,
    utc,
)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2030)


@pytest.fixture
def rig(cal: WorkingCalendar) -> Rig:
    return make_rig(load_policy("wt2013"), cal)


# -- out of order across topics --------------------------------------------------------------------


async def test_decision_read_before_its_contact_still_meets_the_clock(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    d = decision(c, at=utc(2025, 3, 4, 16, 0))
    await rig.feed((d, CASEWORK.name))  # the casework topic was read first
    assert not rig.store.timers

    await rig.feed((c, CONTACTS.name))

    timer = rig.store.only("screening_decision")
    assert timer.status is TimerStatus.MET
    assert timer.met_at == utc(2025, 3, 4, 16, 0)
    met = rig.published("sla.met")
    assert [m["causation_id"] for m in met] == [d["event_id"]]


async def test_an_early_closing_event_never_closes_a_clock_started_after_it(rig: Rig) -> None:
    child = "C-reopened"
    referral_id = str(uuid.uuid4())
    closed = case_closed(child, referral_id, at=utc(2025, 3, 3, 9, 0))
    await rig.feed((closed, CASEWORK.name))

    await rig.feed(
        (referral(child, at=utc(2025, 3, 5, 11, 0), referral_id=referral_id), CASEWORK.name)
    )

    assert rig.store.only("assessment").status is TimerStatus.OPEN


# -- breaches recorded by the handler --------------------------------------------------------------


async def test_late_decision_is_met_late_and_its_breach_goes_to_the_outbox_once(
    rig: Rig,
) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))
    late = decision(c, at=utc(2025, 3, 7, 9, 0))  # due Wed 5 Mar 23:59:59

    await rig.feed((late, CASEWORK.name))
    await rig.feed((late, CASEWORK.name))

    timer = rig.store.only("screening_decision")
    assert timer.status is TimerStatus.MET
    assert timer.breached_at == utc(2025, 3, 7, 9, 0)
    (met,) = rig.published("sla.met")
    assert met["payload"]["late"] is True
    assert rig.published("sla.breached") == []  # scheduled: the scanner releases it at its moment
    (entry,) = rig.store.scheduled.values()
    assert entry.event_id == uuid5(timer.timer_id, "breached")
    assert entry.available_at > timer.due_at


async def test_decision_in_time_that_arrives_after_the_breach_was_announced_withdraws_it(
    rig: Rig,
) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))
    timer = rig.store.only("screening_decision")
    rig.store.timers[timer.timer_id] = breach(timer, utc(2025, 3, 6, 0, 0, 1))  # the scanner

    await rig.feed((decision(c, at=utc(2025, 3, 5, 15, 0)), CASEWORK.name))  # decided in time

    closed = rig.store.only("screening_decision")
    assert closed.status is TimerStatus.MET
    assert closed.breached_at is None
    (met,) = rig.published("sla.met")
    assert met["payload"]["late"] is False
    assert not rig.store.scheduled


async def test_case_closed_after_the_assessment_deadline_records_the_missed_deadline(
    rig: Rig,
) -> None:
    child = "C-late-close"
    r = referral(child, at=utc(2025, 3, 5, 11, 0))
    await rig.feed((r, CASEWORK.name))
    await rig.feed(
        (case_closed(child, r["payload"]["referral_id"], at=utc(2025, 6, 2, 10, 0)), CASEWORK.name)
    )

    timer = rig.store.only("assessment")
    assert timer.status is TimerStatus.CANCELLED
    assert timer.breached_at == utc(2025, 6, 2, 10, 0)
    (cancelled,) = rig.published("sla.cancelled")
    assert cancelled["payload"]["reason"] == "case.closed"
    assert [e.event_type for e in rig.store.scheduled.values()] == ["sla.breached"]


# -- what is refused, what is dead-lettered, what is ignored ---------------------------------------


def _dead(rig: Rig) -> list[OutRecord]:
    return rig.harness.sent_to(DEADLETTER.name)


def _half_broken(cal: WorkingCalendar) -> Rig:
    """A policy whose screening clock needs a field no contact has; its assessment clock works."""
    policy = parse_policy(
        {
            "name": "broken",
            "version": 1,
            "timers": {
                "screening_decision": {
                    "deadline": {"working_days": 1},
                    "start": [{"event": "contact.received", "subject": "payload.no_such_field"}],
                },
                "assessment": {
                    "deadline": {"working_days": 45},
                    "start": [{"event": "referral.accepted", "subject": "payload.referral_id"}],
                },
            },
        }
    )
    return make_rig(policy, cal)


async def test_event_lacking_a_field_the_policy_needs_is_refused_as_validation(
    cal: WorkingCalendar,
) -> None:
    rig = _half_broken(cal)
    c = contact(at=utc(2025, 3, 4, 10, 30))
    r = referral(c["subject"]["child_id"], at=utc(2025, 3, 5, 11, 0))

    with capture_logs() as logs:
        outcome = await rig.feed((c, CONTACTS.name), (r, CASEWORK.name))

    (dead,) = _dead(rig)
    headers = header_map(dead.headers)
    assert headers["dlq.reason"] == "validation"
    assert headers["dlq.exception.class"].endswith("TriggerError")
    assert "payload.no_such_field" in headers["dlq.exception.message"]
    assert headers["dlq.consumer.group"] == GROUP
    assert dead.value == orjson.dumps(c)
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    assert ("sla.timers", uuid.UUID(c["event_id"])) not in rig.processed  # replayable after a fix
    assert [t.kind for t in rig.store.timers.values()] == ["assessment"]  # the rest proceeds
    assert [e.get("reason") for e in logs if e.get("outcome") == "deadlettered"] == ["validation"]


def test_an_event_refused_part_way_leaves_the_childs_clocks_as_they_were(
    cal: WorkingCalendar,
) -> None:
    policy = load_policy("wt2013")
    child = "C-refused"
    r = referral(child, at=utc(2025, 3, 5, 11, 0))
    closed = case_closed(child, r["payload"]["referral_id"], at=utc(2025, 3, 6, 9, 0))
    del closed["payload"]["closed_at"]  # kept by an older version; the policy now needs it
    kept = EarlyEvent(uuid.uuid4(), "case.closed", utc(2025, 3, 6, 9, 0), closed)
    clocks = ChildClocks.load(child, policy, cal, early=[kept])

    with pytest.raises(TriggerError, match="closed_at"):
        clocks.apply(r, Cause(uuid.UUID(r["event_id"]), None))

    assert (clocks.timers, clocks.applied, clocks.started_by, clocks.team) == ({}, [], {}, None)
    assert clocks.early == [kept]


async def test_event_whose_deadline_the_calendar_cannot_compute_is_a_processing_dead_letter(
    rig: Rig,
) -> None:
    far = contact(at=utc(2099, 3, 4, 10, 30))  # valid, but beyond the bank-holiday calendar
    fine = contact(at=utc(2025, 3, 4, 10, 30))

    outcome = await rig.feed((far, CONTACTS.name), (fine, CONTACTS.name))

    (dead,) = _dead(rig)
    assert header_map(dead.headers)["dlq.reason"] == "processing"
    assert header_map(dead.headers)["dlq.exception.class"].endswith("CalendarRangeError")
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    assert [t.child_id for t in rig.store.timers.values()] == [fine["subject"]["child_id"]]


async def test_record_that_is_not_json_is_deadlettered_with_its_original_bytes(rig: Rig) -> None:
    bad = Origin(CASEWORK.name, 3, 17, b"C1", b"{not json", ())

    await rig.harness.feed([bad])

    (dead,) = _dead(rig)
    assert dead.value == b"{not json"
    assert dead.key == b"C1"
    assert header_map(dead.headers)["dlq.reason"] == "deserialization"
    assert header_map(dead.headers)["dlq.original.offset"] == "17"


async def test_events_no_clock_or_team_depends_on_are_skipped_unread(rig: Rig) -> None:
    record = Origin(
        CASEWORK.name, 0, 1, b"C1", b"not even json", (("event_type", b"ooh.alert_raised"),)
    )

    outcome = await rig.harness.feed([record])

    assert outcome.ignored == 1
    assert rig.sent == []
    assert rig.store.saves == 0


async def test_one_canonical_log_line_per_applied_event(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    with capture_logs() as logs:
        await rig.feed((c, CONTACTS.name))

    (line,) = [e for e in logs if e["event"] == "record_handled"]
    assert line["event_id"] == c["event_id"]
    assert line["child_id"] == c["subject"]["child_id"]
    assert line["consumer"] == "sla.timers"
    assert line["clocks"] == ["start:screening_decision"]
    assert "payload" not in line
    assert "Alex" not in str(logs)


async def test_early_events_are_recorded_on_the_workers_clock(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((decision(c, at=utc(2025, 3, 4, 16, 0)), CASEWORK.name))

    assert rig.store.early_recorded == [utc(2025, 3, 4, 12, 0)]  # NOW, not the event's time
