"""Lifecycle events driving a child's clocks under wt2013, wt2010 and a local policy.

A small in-memory store mimics the SLA table: live timers in, changes out, a start inserted only
if its id is absent. Every expected due date is written by hand.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.common.calendar import LONDON, WorkingCalendar
from services.sla.domain.lifecycle import TimerChange, apply_event
from services.sla.domain.policies import Policy
from services.sla.domain.timers import Timer, TimerStatus
from services.sla.domain.triggers import TriggerError, Verb
from services.sla.policies import load_policy


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2026)


def t(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def event(
    event_type: str, at: datetime, child_id: str = "child-1", **payload: Any
) -> dict[str, Any]:
    return {
        "event_id": uuid4(),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "source": {"agency": "social_care", "system": "test", "ref": "r"},
        "subject": {"child_id": child_id},
        "payload": payload,
    }


class Store:
    def __init__(self, policy: Policy, cal: WorkingCalendar) -> None:
        self.policy, self.cal = policy, cal
        self.timers: dict[UUID, Timer] = {}

    def apply(self, ev: dict[str, Any]) -> list[TimerChange]:
        live = [x for x in self.timers.values() if x.live]
        changes = apply_event(self.policy, ev, live_timers=live, calendar=self.cal)
        for change in changes:
            if change.before is not None or change.after.timer_id not in self.timers:
                self.timers[change.after.timer_id] = change.after
        return changes

    def only(self, kind: str, status: TimerStatus | None = None) -> Timer:
        found = [x for x in self.timers.values() if x.kind == kind]
        if status is not None:
            found = [x for x in found if x.status is status]
        assert len(found) == 1, found
        return found[0]

    def of(self, kind: str) -> list[Timer]:
        return sorted(
            (x for x in self.timers.values() if x.kind == kind), key=lambda x: x.started_at
        )


@pytest.fixture
def wt2013(cal: WorkingCalendar) -> Store:
    return Store(load_policy("wt2013"), cal)


# -- the front door -------------------------------------------------------------------------------


def test_friday_contact_decision_due_monday_and_met_by_the_decision(wt2013: Store) -> None:
    contact = uuid4()
    wt2013.apply(
        event(
            "contact.received", t(2024, 6, 7, 16), contact_id=contact, contact_at=t(2024, 6, 7, 16)
        )
    )
    timer = wt2013.only("screening_decision")
    assert timer.due_at.isoformat() == "2024-06-10T23:59:59+01:00"
    assert timer.subject_ref == str(contact)
    wt2013.apply(
        event(
            "screening.decision_recorded",
            t(2024, 6, 10, 11),
            contact_id=contact,
            decided_at=t(2024, 6, 10, 11),
        )
    )
    met = wt2013.only("screening_decision")
    assert (met.status, met.late) == (TimerStatus.MET, False)


@pytest.mark.parametrize(
    ("priority", "due"),
    [
        ("red", "2024-06-07T20:00:00+01:00"),  # Fri 16:00 + 4 h, out of hours too
        ("amber", "2024-06-08T16:00:00+01:00"),  # + 24 h: Saturday 16:00
        ("green", "2024-06-10T16:00:00+01:00"),  # + 72 h: Monday 16:00
    ],
)
def test_triage_window_is_elapsed_hours_from_a_friday_afternoon_domain_s2(
    wt2013: Store, priority: str, due: str
) -> None:
    at = t(2024, 6, 7, 16)
    wt2013.apply(
        event("screening.triaged", at, contact_id=uuid4(), triaged_at=at, priority=priority)
    )
    assert wt2013.only("triage").due_at.isoformat() == due


def test_red_triage_warns_an_hour_before(wt2013: Store) -> None:
    at = t(2024, 6, 7, 16)
    wt2013.apply(event("screening.triaged", at, contact_id=uuid4(), triaged_at=at, priority="red"))
    warn_at = wt2013.only("triage").warn_at
    assert warn_at is not None
    assert warn_at.isoformat() == "2024-06-07T19:00:00+01:00"  # due 20:00 (4 elapsed h) − 1 h


def test_blue_triage_starts_no_window(wt2013: Store) -> None:
    at = t(2024, 6, 7, 16)
    assert (
        wt2013.apply(
            event("screening.triaged", at, contact_id=uuid4(), triaged_at=at, priority="blue")
        )
        == []
    )


def _da(contact: UUID, incident: datetime, born: date) -> dict[str, Any]:
    return event(
        "police.da_notification",
        incident,
        contact_id=contact,
        contact_at=incident,
        incident_at=incident,
        child={"date_of_birth": born},
    )


def test_school_age_child_in_a_da_incident_starts_operation_encompass(wt2013: Store) -> None:
    # Thursday 11 June 2026 02:00: before that day's 08:30 school start (duty from 7 Nov 2025)
    wt2013.apply(_da(uuid4(), t(2026, 6, 11, 2), date(2015, 1, 1)))
    assert wt2013.only("operation_encompass").due_at.isoformat() == "2026-06-11T08:30:00+01:00"
    assert wt2013.only("screening_decision").due_at.isoformat() == "2026-06-12T23:59:59+01:00"


def test_no_encompass_clock_before_the_duty_commenced_domain_s2(wt2013: Store) -> None:
    # DOMAIN.md §2: a clock that did not exist at the event's date is not started; the duty
    # commenced 7 Nov 2025, so an incident on 6 Nov 2025 23:00 starts only the decision clock
    changes = wt2013.apply(_da(uuid4(), t(2025, 11, 6, 23), date(2015, 1, 1)))
    assert [c.after.kind for c in changes] == ["screening_decision"]


def test_a_baby_in_a_da_incident_starts_no_school_clock(wt2013: Store) -> None:
    changes = wt2013.apply(_da(uuid4(), t(2024, 6, 11, 2), date(2023, 9, 1)))
    assert [c.after.kind for c in changes] == ["screening_decision"]


# -- assessment -----------------------------------------------------------------------------------


def test_assessment_due_45_working_days_after_referral_and_met_late_is_a_breach(
    wt2013: Store,
) -> None:
    referral = uuid4()
    wt2013.apply(
        event("referral.accepted", t(2024, 6, 3), referral_id=referral, referral_at=t(2024, 6, 3))
    )
    assert wt2013.only("assessment").due_at.isoformat() == "2024-08-05T23:59:59+01:00"
    (change,) = wt2013.apply(
        event(
            "assessment.authorised",
            t(2024, 8, 6),
            referral_id=referral,
            authorised_at=t(2024, 8, 6),
        )
    )
    assert change.verb is Verb.STOP
    assert change.after.late
    assert change.newly_breached


def test_case_closure_cancels_the_assessment_of_that_referral_only(wt2013: Store) -> None:
    first, second = uuid4(), uuid4()
    for referral in (first, second):
        wt2013.apply(
            event(
                "referral.accepted", t(2024, 6, 3), referral_id=referral, referral_at=t(2024, 6, 3)
            )
        )
    wt2013.apply(event("case.closed", t(2024, 6, 20), referral_id=first, closed_at=t(2024, 6, 20)))
    statuses = {x.subject_ref: x.status for x in wt2013.of("assessment")}
    assert statuses == {str(first): TimerStatus.CANCELLED, str(second): TimerStatus.OPEN}


# -- child protection -----------------------------------------------------------------------------


def _strategy(strategy: UUID, at: datetime, outcome: str = "section_47") -> dict[str, Any]:
    return event(
        "strategy_discussion.held",
        at,
        strategy_id=strategy,
        referral_id=uuid4(),
        held_at=at,
        outcome=outcome,
    )


def test_icpc_due_15_wd_after_the_strategy_discussion_and_s47_start_is_the_same_clock(
    wt2013: Store,
) -> None:
    strategy = uuid4()
    wt2013.apply(_strategy(strategy, t(2024, 6, 5)))
    assert wt2013.only("icpc").due_at.isoformat() == "2024-06-26T23:59:59+01:00"
    again = event(
        "s47.started",
        t(2024, 6, 5, 15),
        strategy_id=strategy,
        s47_id=uuid4(),
        started_at=t(2024, 6, 5, 15),
    )
    assert wt2013.apply(again) == []


def test_icpc_clock_skips_the_august_bank_holiday(wt2013: Store) -> None:
    wt2013.apply(_strategy(uuid4(), t(2024, 8, 15)))
    assert wt2013.only("icpc").due_at.isoformat() == "2024-09-06T23:59:59+01:00"


def test_strategy_discussion_without_s47_starts_no_icpc_clock(wt2013: Store) -> None:
    assert wt2013.apply(_strategy(uuid4(), t(2024, 6, 5), outcome="no_further_action")) == []


def test_s47_concluding_no_icpc_needed_cancels_the_icpc_clock(wt2013: Store) -> None:
    wt2013.apply(_strategy(uuid4(), t(2024, 6, 5)))
    wt2013.apply(
        event(
            "s47.completed",
            t(2024, 6, 14),
            s47_id=uuid4(),
            completed_at=t(2024, 6, 14),
            icpc_required=False,
        )
    )
    assert wt2013.only("icpc").status is TimerStatus.CANCELLED


def _icpc_held(plan: UUID, at: datetime) -> dict[str, Any]:
    return event(
        "conference.icpc_held", at, conference_id=uuid4(), plan=True, plan_id=plan, conference_at=at
    )


def test_icpc_with_a_plan_meets_the_icpc_clock_and_starts_the_plan_clocks(wt2013: Store) -> None:
    wt2013.apply(_strategy(uuid4(), t(2024, 6, 5)))
    wt2013.apply(_icpc_held(uuid4(), t(2024, 6, 25)))
    assert wt2013.only("icpc").status is TimerStatus.MET
    assert wt2013.only("first_core_group").due_at.isoformat() == "2024-07-09T23:59:59+01:00"
    assert wt2013.only("first_review").due_at.isoformat() == "2024-09-25T23:59:59+01:00"
    assert wt2013.only("cp_visit").due_at.isoformat() == "2024-07-09T23:59:59+01:00"


def test_a_stop_never_touches_a_clock_started_after_it(wt2013: Store) -> None:
    wt2013.apply(_strategy(uuid4(), t(2024, 6, 5)))
    wt2013.apply(_icpc_held(uuid4(), t(2024, 6, 4)))
    assert wt2013.only("icpc").status is TimerStatus.OPEN


def _core_group(plan: UUID, at: datetime) -> dict[str, Any]:
    return event("core_group.held", at, core_group_id=uuid4(), plan_id=plan, held_at=at)


def test_core_groups_meet_the_last_clock_and_start_the_next(wt2013: Store) -> None:
    plan = uuid4()
    wt2013.apply(_icpc_held(plan, t(2024, 6, 25)))
    wt2013.apply(_core_group(plan, t(2024, 7, 5)))
    assert wt2013.only("first_core_group").status is TimerStatus.MET
    assert wt2013.only("core_group").due_at.isoformat() == "2024-08-16T23:59:59+01:00"

    second = _core_group(plan, t(2024, 8, 15))
    wt2013.apply(second)
    first_clock, second_clock = wt2013.of("core_group")
    assert (first_clock.status, first_clock.late) == (TimerStatus.MET, False)
    assert second_clock.status is TimerStatus.OPEN
    assert second_clock.due_at.isoformat() == "2024-09-26T23:59:59+01:00"


def test_redelivered_core_group_changes_nothing(wt2013: Store) -> None:
    plan = uuid4()
    wt2013.apply(_icpc_held(plan, t(2024, 6, 25)))
    meeting = _core_group(plan, t(2024, 7, 5))
    wt2013.apply(meeting)
    assert wt2013.apply(meeting) == []


def test_reviews_within_3_then_6_months_across_the_clock_changes(wt2013: Store) -> None:
    plan = uuid4()
    wt2013.apply(_icpc_held(plan, t(2024, 6, 25)))
    review: dict[str, Any] = {"plan_id": plan, "plan_continues": True}
    wt2013.apply(
        event(
            "conference.rcpc_held",
            t(2024, 9, 25),
            conference_id=uuid4(),
            conference_at=t(2024, 9, 25),
            **review,
        )
    )
    assert (wt2013.only("first_review").status, wt2013.only("first_review").late) == (
        TimerStatus.MET,
        False,
    )
    assert wt2013.only("review").due_at.isoformat() == "2025-03-25T23:59:59+00:00"

    wt2013.apply(
        event(
            "conference.rcpc_held",
            t(2025, 3, 24),
            conference_id=uuid4(),
            conference_at=t(2025, 3, 24),
            **review,
        )
    )
    earlier, latest = wt2013.of("review")
    assert earlier.status is TimerStatus.MET
    assert latest.due_at.isoformat() == "2025-09-24T23:59:59+01:00"


def test_plan_ending_cancels_every_live_plan_clock(wt2013: Store) -> None:
    plan = uuid4()
    wt2013.apply(_icpc_held(plan, t(2024, 6, 25)))
    changes = wt2013.apply(
        event("cp_plan.ended", t(2024, 7, 1), plan_id=plan, ended_at=t(2024, 7, 1))
    )
    assert {c.after.kind for c in changes} == {"first_core_group", "first_review", "cp_visit"}
    assert all(c.verb is Verb.CANCEL and c.after.status is TimerStatus.CANCELLED for c in changes)


def test_each_agency_report_clock_is_met_only_by_that_agency_sharing_it(wt2013: Store) -> None:
    conference = uuid4()
    for agency in ("police", "health"):
        wt2013.apply(
            event(
                "conference.invitation_issued",
                t(2024, 6, 12),
                conference_id=conference,
                agency=agency,
                conference_at=t(2024, 6, 27),
            )
        )
    clocks = wt2013.of("conference_reports")
    assert [c.due_at.isoformat() for c in clocks] == ["2024-06-25T23:59:59+01:00"] * 2

    report: dict[str, Any] = {
        "conference_id": conference,
        "agency": "police",
        "submitted_at": t(2024, 6, 20),
    }
    assert (
        wt2013.apply(
            event("conference.report_submitted", t(2024, 6, 20), shared_with_family=False, **report)
        )
        == []
    )
    wt2013.apply(
        event("conference.report_submitted", t(2024, 6, 20), shared_with_family=True, **report)
    )
    statuses = {c.subject_ref.split("/")[1]: c.status for c in wt2013.of("conference_reports")}
    assert statuses == {"police": TimerStatus.MET, "health": TimerStatus.OPEN}


# -- out of hours and emergencies -----------------------------------------------------------------


def test_handover_starts_a_0900_clock_the_day_teams_acknowledgement_meets(wt2013: Store) -> None:
    handover = uuid4()
    wt2013.apply(
        event(
            "ooh.handover_published",
            t(2024, 6, 11, 7, 30),
            handover_id=handover,
            shift_started_at=t(2024, 6, 10, 17),
        )
    )
    timer = wt2013.only("ooh_handover")
    assert timer.due_at.isoformat() == "2024-06-11T09:00:00+01:00"
    assert timer.warn_at is not None
    assert timer.warn_at.isoformat() == "2024-06-11T08:00:00+01:00"
    wt2013.apply(
        event(
            "ooh.handover_acknowledged",
            t(2024, 6, 11, 8, 40),
            handover_id=handover,
            acknowledged_at=t(2024, 6, 11, 8, 40),
        )
    )
    assert wt2013.only("ooh_handover").status is TimerStatus.MET


def test_police_protection_72_hours_across_the_spring_change(wt2013: Store) -> None:
    protection = uuid4()
    wt2013.apply(
        event(
            "police.protection_started",
            t(2025, 3, 28),
            protection_id=protection,
            started_at=t(2025, 3, 28),
        )
    )
    timer = wt2013.only("police_protection")
    assert timer.due_at.isoformat() == "2025-03-31T11:00:00+01:00"
    assert timer.warn_at is not None
    assert timer.warn_at.isoformat() == "2025-03-30T23:00:00+01:00"
    wt2013.apply(
        event(
            "police.protection_ended",
            t(2025, 3, 30, 9),
            protection_id=protection,
            ended_at=t(2025, 3, 30, 9),
        )
    )
    assert wt2013.only("police_protection").status is TimerStatus.MET


# -- guards ---------------------------------------------------------------------------------------


def test_an_event_missing_a_subject_field_is_refused(wt2013: Store) -> None:
    with pytest.raises(TriggerError, match=r"payload\.referral_id"):
        wt2013.apply(event("referral.accepted", t(2024, 6, 3), referral_at=t(2024, 6, 3)))


def test_other_childrens_timers_are_never_touched(wt2013: Store) -> None:
    wt2013.apply(_icpc_held(uuid4(), t(2024, 6, 25)))
    ended = event(
        "cp_plan.ended", t(2024, 7, 1), child_id="child-2", plan_id=uuid4(), ended_at=t(2024, 7, 1)
    )
    assert wt2013.apply(ended) == []


# -- wt2010 and a local policy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "due"), [("wt2010", "2024-06-17"), ("local-example", "2024-06-12")]
)
def test_initial_assessment_10_wd_or_7_wd_locally(
    cal: WorkingCalendar, policy: str, due: str
) -> None:
    store = Store(load_policy(policy), cal)
    store.apply(
        event("referral.accepted", t(2024, 6, 3), referral_id=uuid4(), referral_at=t(2024, 6, 3))
    )
    assert store.only("initial_assessment").due_at.isoformat() == f"{due}T23:59:59+01:00"
    assert store.of("assessment") == []


def test_wt2010_core_assessment_35_wd_from_its_start_met_by_its_authorisation(
    cal: WorkingCalendar,
) -> None:
    store = Store(load_policy("wt2010"), cal)
    referral, core = uuid4(), uuid4()
    store.apply(
        event("referral.accepted", t(2024, 6, 3), referral_id=referral, referral_at=t(2024, 6, 3))
    )
    store.apply(
        event(
            "assessment.authorised",
            t(2024, 6, 14),
            referral_id=referral,
            assessment_id=uuid4(),
            authorised_at=t(2024, 6, 14),
        )
    )
    assert store.only("initial_assessment").status is TimerStatus.MET
    store.apply(
        event(
            "assessment.started",
            t(2024, 6, 18),
            referral_id=referral,
            assessment_id=core,
            started_at=t(2024, 6, 18),
            kind="core",
        )
    )
    assert store.only("core_assessment").due_at.isoformat() == "2024-08-06T23:59:59+01:00"
    store.apply(
        event(
            "assessment.authorised",
            t(2024, 8, 1),
            referral_id=referral,
            assessment_id=core,
            authorised_at=t(2024, 8, 1),
        )
    )
    assert (store.only("core_assessment").status, store.only("core_assessment").late) == (
        TimerStatus.MET,
        False,
    )


def test_local_example_triage_red_and_amber_both_4_working_hours(cal: WorkingCalendar) -> None:
    store = Store(load_policy("local-example"), cal)
    at = t(2024, 6, 7, 16)
    store.apply(event("screening.triaged", at, contact_id=uuid4(), triaged_at=at, priority="amber"))
    assert store.only("triage").due_at.isoformat() == "2024-06-10T12:00:00+01:00"
