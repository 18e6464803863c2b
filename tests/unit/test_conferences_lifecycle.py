"""One child's child protection journey, from a police DA notification to the plan ending.

Every event goes through the conferences domain (bookings, invitations, reports, plans) and,
together with the invitations it issues, through the SLA timer engine with the shipped policy, as
the two workers would see them. Every expected date is written out by hand: the 2025 journey
crosses Easter and the early and late May bank holidays and books a review whose six-month date
is a Sunday; the wt2010 journey of 2012 crosses the diamond jubilee and a Saturday review date.
The event builders here are shared with the other conferences tests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from schemas.envelope import EventBase
from schemas.events.conferences import ConferenceInvitationIssued
from schemas.registry import parse_event
from services.common.calendar import LONDON, WorkingCalendar
from services.conferences.adapters.rules import load_rules
from services.conferences.domain.invitations import icpc_id, review_id
from services.conferences.domain.processing import Outcome, apply_event
from services.conferences.domain.state import ChildFile, ConferenceStatus, PlanStatus
from services.sla.domain.lifecycle import apply_event as apply_to_clocks
from services.sla.domain.timers import Timer, TimerStatus
from services.sla.policies import load_policy
from tests.factories import child_details, da_notification, envelope

CALENDAR = WorkingCalendar.england_and_wales(2010, 2030)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A London wall-clock moment."""
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def eod(y: int, m: int, d: int) -> datetime:
    """23:59:59 London on that day: when a day-based deadline falls due."""
    return datetime(y, m, d, 23, 59, 59, tzinfo=LONDON)


def new_id() -> str:
    return str(uuid.uuid4())


# -- event builders (shared with tests/*/test_conferences*.py) ------------------------------------


def referral(child: str, when: datetime, referral_id: str | None = None) -> dict[str, Any]:
    return envelope(
        "referral.accepted",
        1,
        {
            "referral_id": referral_id or new_id(),
            "referral_at": when.isoformat(),
            "referral_source": "6",
            "primary_need": "N1",
            "team": "Assessment Team 1",
            "child": child_details(),
        },
        child=child,
        at=when,
    )


def strategy(
    child: str,
    referral_id: str,
    when: datetime,
    *,
    agencies: tuple[str, ...] = ("police", "social_care", "health", "education"),
    outcome: str = "section_47",
    strategy_id: str | None = None,
) -> dict[str, Any]:
    return envelope(
        "strategy_discussion.held",
        1,
        {
            "strategy_id": strategy_id or new_id(),
            "referral_id": referral_id,
            "held_at": when.isoformat(),
            "agencies": list(agencies),
            "outcome": outcome,
        },
        child=child,
        at=when,
    )


def s47(child: str, of_strategy: dict[str, Any], when: datetime) -> dict[str, Any]:
    return envelope(
        "s47.started",
        1,
        {
            "s47_id": new_id(),
            "strategy_id": of_strategy["payload"]["strategy_id"],
            "referral_id": of_strategy["payload"]["referral_id"],
            "started_at": when.isoformat(),
        },
        child=child,
        at=when,
    )


def s47_completed(
    child: str, of_s47: dict[str, Any], when: datetime, *, icpc_required: bool
) -> dict[str, Any]:
    return envelope(
        "s47.completed",
        1,
        {
            "s47_id": of_s47["payload"]["s47_id"],
            "referral_id": of_s47["payload"]["referral_id"],
            "completed_at": when.isoformat(),
            "concerns_substantiated": icpc_required,
            "icpc_required": icpc_required,
        },
        child=child,
        at=when,
    )


def report(
    child: str, conference_id: UUID | str, agency: str, when: datetime, *, shared: bool = True
) -> dict[str, Any]:
    return envelope(
        "conference.report_submitted",
        1,
        {
            "report_id": new_id(),
            "conference_id": str(conference_id),
            "agency": agency,
            "submitted_at": when.isoformat(),
            "shared_with_family": shared,
        },
        child=child,
        agency=agency,
        at=when,
    )


def icpc(
    child: str,
    of_s47: dict[str, Any],
    when: datetime,
    *,
    plan_id: str | None,
    category: str = "NEG",
    attending: tuple[str, ...] = ("social_care", "police", "health"),
    referral_id: str | None = None,
) -> dict[str, Any]:
    return envelope(
        "conference.icpc_held",
        1,
        {
            "conference_id": new_id(),
            "s47_id": of_s47["payload"]["s47_id"],
            "referral_id": referral_id or of_s47["payload"]["referral_id"],
            "conference_at": when.isoformat(),
            "invited_agencies": ["police", "health", "education", "social_care"],
            "attending_agencies": list(attending),
            "plan": plan_id is not None,
            "plan_id": plan_id,
            "category": category if plan_id else None,
        },
        child=child,
        at=when,
    )


def rcpc(
    child: str, plan_id: str, when: datetime, *, continues: bool, category: str = "EMO"
) -> dict[str, Any]:
    return envelope(
        "conference.rcpc_held",
        1,
        {
            "conference_id": new_id(),
            "plan_id": plan_id,
            "conference_at": when.isoformat(),
            "invited_agencies": ["police", "health", "education", "social_care"],
            "attending_agencies": ["social_care", "police", "education"],
            "plan_continues": continues,
            "latest_category": category if continues else None,
        },
        child=child,
        at=when,
    )


def core_group(child: str, plan_id: str, when: datetime) -> dict[str, Any]:
    return envelope(
        "core_group.held",
        1,
        {"core_group_id": new_id(), "plan_id": plan_id, "held_at": when.isoformat()},
        child=child,
        at=when,
    )


def visit(child: str, plan_id: str, when: datetime, *, alone: bool = True) -> dict[str, Any]:
    return envelope(
        "visit.recorded",
        1,
        {
            "visit_id": new_id(),
            "visit_at": when.isoformat(),
            "kind": "cp_statutory",
            "plan_id": plan_id,
            "child_seen": True,
            "seen_alone": alone,
        },
        child=child,
        at=when,
    )


def plan_ended(child: str, plan_id: str, when: datetime) -> dict[str, Any]:
    return envelope(
        "cp_plan.ended",
        1,
        {"plan_id": plan_id, "ended_at": when.isoformat(), "reason": "review_decision"},
        child=child,
        at=when,
    )


def closed(child: str, referral_id: str, when: datetime, *, nfa: bool = False) -> dict[str, Any]:
    return envelope(
        "case.closed",
        1,
        {
            "referral_id": referral_id,
            "closed_at": when.isoformat(),
            "reason": "RC8" if nfa else "RC7",
            "referral_nfa": nfa,
        },
        child=child,
        at=when,
    )


# -- the two services, in memory ------------------------------------------------------------------


@dataclass
class Journey:
    """The conferences domain and the SLA engine fed the same events, as the workers are."""

    policy: str
    child_id: str
    record: ChildFile = field(init=False)
    timers: dict[UUID, Timer] = field(default_factory=dict)
    invitations: list[ConferenceInvitationIssued] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.record = ChildFile(child_id=self.child_id)
        self.rules = load_rules(self.policy)
        self.sla = load_policy(self.policy)

    def feed(self, raw: dict[str, Any]) -> Outcome:
        event = parse_event(raw)
        outcome = apply_event(self.record, event, rules=self.rules, calendar=CALENDAR)
        self.record = outcome.child
        self._clocks(event)
        for invitation in outcome.issued:
            self.invitations.append(invitation)
            self._clocks(invitation)
        return outcome

    def _clocks(self, event: EventBase) -> None:
        live = [t for t in self.timers.values() if t.live]
        for change in apply_to_clocks(self.sla, event, live_timers=live, calendar=CALENDAR):
            if change.before is not None or change.after.timer_id not in self.timers:
                self.timers[change.after.timer_id] = change.after

    def clocks(self, kind: str) -> list[Timer]:
        return sorted(
            (t for t in self.timers.values() if t.kind == kind),
            key=lambda t: (t.started_at.astimezone(UTC), t.subject_ref),
        )

    def report_clocks(self, conference_id: UUID) -> dict[str, Timer]:
        return {
            t.subject_ref.split("/")[1]: t
            for t in self.clocks("conference_reports")
            if t.subject_ref.startswith(str(conference_id))
        }


def due_and_status(timer: Timer) -> tuple[datetime, TimerStatus]:
    return timer.due_at, timer.status


# -- WT 2013 ---------------------------------------------------------------------------------------


def test_wt2013_journey_from_da_notification_to_second_review_and_plan_end() -> None:
    child = "C-2025-journey"
    j = Journey("wt2013", child)
    # Wednesday night incident; the police notification reaches the MASH on Thursday 10 April.
    j.feed(da_notification(child, at=datetime(2025, 4, 9, 22, 40, tzinfo=UTC)))
    ref = referral(child, at(2025, 4, 10, 11, 30))
    j.feed(ref)
    rid = ref["payload"]["referral_id"]

    # Monday 14 April: strategy discussion → s47. ICPC +15 WD over Good Friday (18 Apr), Easter
    # Monday (21 Apr) and the early May bank holiday (5 May): Thursday 8 May 2025.
    sd = strategy(child, rid, at(2025, 4, 14, 14))
    booked = j.feed(sd)
    assert booked.action == "icpc_scheduled"
    en = s47(child, sd, at(2025, 4, 14, 15))
    assert j.feed(en).issued == ()
    conf = icpc_id(child, UUID(sd["payload"]["strategy_id"]))
    icpc_booking = j.record.conferences[conf]
    assert icpc_booking.target_date == date(2025, 5, 8)
    assert icpc_booking.reports_due_by == eod(2025, 5, 6)  # 2 WD before: Tuesday 6 May
    assert [i.payload.agency.value for i in booked.issued] == [
        "police",
        "health",
        "education",
        "social_care",
    ]
    assert {i.payload.icpc_target_date for i in booked.issued} == {date(2025, 5, 8)}
    assert {i.payload.reports_due_by for i in booked.issued} == {eod(2025, 5, 6)}
    assert due_and_status(j.clocks("icpc")[0]) == (eod(2025, 5, 8), TimerStatus.OPEN)
    assert {a: t.due_at for a, t in j.report_clocks(conf).items()} == {
        "police": eod(2025, 5, 6),
        "health": eod(2025, 5, 6),
        "education": eod(2025, 5, 6),
        "social_care": eod(2025, 5, 6),
    }

    # Reports: police and social care in time, health the day after the deadline, education never.
    j.feed(report(child, conf, "police", at(2025, 5, 2, 12)))
    j.feed(report(child, conf, "social_care", at(2025, 5, 6, 16)))
    assert not j.record.conferences[conf].quorate_on_reports  # social care + only one other
    assert j.feed(report(child, conf, "health", at(2025, 5, 7, 9))).action == "report_late"
    before = j.record.conferences[conf]
    assert before.quorate_on_reports
    assert {r.agency.value: r.on_time for r in before.reports} == {
        "police": True,
        "health": False,
        "social_care": True,
    }

    # Wednesday 7 May: the ICPC makes a plan (neglect); the plan starts that day.
    plan = new_id()
    held = j.feed(icpc(child, en, at(2025, 5, 7, 10), plan_id=plan))
    assert held.action == "icpc_held_plan_started"
    icpc_row = j.record.conferences[conf]
    assert icpc_row.status is ConferenceStatus.HELD
    assert icpc_row.quorate is True
    p = j.record.plans[UUID(plan)]
    assert p.start_date == date(2025, 5, 7)
    first_review = review_id(UUID(plan), 1)
    assert j.record.conferences[first_review].target_date == date(2025, 8, 7)
    assert j.record.conferences[first_review].reports_due_by == eod(2025, 8, 5)
    assert {i.payload.review_target_date for i in held.issued} == {date(2025, 8, 7)}

    # A visit on Friday 16 May (seen alone); the next is due 10 WD later, over a weekend and the
    # late May bank holiday (26 May): Monday 2 June. Core groups on 20 May and 24 June.
    j.feed(visit(child, plan, at(2025, 5, 16, 15)))
    j.feed(core_group(child, plan, at(2025, 5, 20, 11)))
    j.feed(core_group(child, plan, at(2025, 6, 24, 11)))
    j.feed(report(child, first_review, "police", at(2025, 7, 30, 12)))

    # Friday 1 August: first review, plan continues (emotional abuse). Six months on is Sunday
    # 1 February 2026, so the second review must be held by Friday 30 January 2026.
    first = j.feed(rcpc(child, plan, at(2025, 8, 1, 10), continues=True))
    assert first.action == "rcpc_held_plan_continues"
    second_review = review_id(UUID(plan), 2)
    assert j.record.conferences[second_review].target_date == date(2026, 1, 30)
    assert j.record.conferences[second_review].reports_due_by == eod(2026, 1, 28)
    assert j.record.plans[UUID(plan)].latest_category.value == "EMO"

    # Wednesday 28 January 2026: second review decides the plan ends; it ends that day.
    assert j.feed(rcpc(child, plan, at(2026, 1, 28, 10), continues=False)).issued == ()
    j.feed(plan_ended(child, plan, at(2026, 1, 28, 11)))
    ended = j.record.plans[UUID(plan)]
    assert ended.status is PlanStatus.ENDED
    assert (ended.core_groups, ended.visits, ended.reviews) == (2, 1, 2)
    assert [c for c in j.record.conferences.values() if c.pending] == []

    clocks = {
        kind: [due_and_status(t) for t in j.clocks(kind)]
        for kind in ("icpc", "first_core_group", "core_group", "cp_visit", "first_review", "review")
    }
    assert clocks == {
        "icpc": [(eod(2025, 5, 8), TimerStatus.MET)],
        "first_core_group": [(eod(2025, 5, 21), TimerStatus.MET)],
        "core_group": [
            (eod(2025, 7, 1), TimerStatus.MET),
            (eod(2025, 8, 5), TimerStatus.CANCELLED),  # none after 24 June: missed, then ended
        ],
        "cp_visit": [
            (eod(2025, 5, 21), TimerStatus.MET),
            (eod(2025, 6, 2), TimerStatus.CANCELLED),
        ],
        "first_review": [(eod(2025, 8, 7), TimerStatus.MET)],
        "review": [(eod(2026, 2, 1), TimerStatus.MET)],  # the SLA clock: six calendar months
    }
    assert j.clocks("core_group")[1].breached_at == at(2026, 1, 28, 11)
    assert j.clocks("review")[0].met_at == at(2026, 1, 28, 10)

    icpc_reports = j.report_clocks(conf)
    assert {a: t.status for a, t in icpc_reports.items()} == {
        "police": TimerStatus.MET,
        "social_care": TimerStatus.MET,
        "health": TimerStatus.MET,
        "education": TimerStatus.CANCELLED,  # never sent; moot once the ICPC was held
    }
    assert icpc_reports["health"].breached_at == at(2025, 5, 7, 9)  # late
    assert icpc_reports["education"].breached_at == at(2025, 5, 7, 10)
    assert icpc_reports["police"].breached_at is None
    review_reports = j.report_clocks(first_review)
    assert {t.due_at for t in review_reports.values()} == {eod(2025, 8, 5)}
    assert review_reports["police"].status is TimerStatus.MET
    assert review_reports["health"].status is TimerStatus.CANCELLED
    assert review_reports["health"].breached_at is None  # review held before the deadline
    assert {t.due_at for t in j.report_clocks(second_review).values()} == {eod(2026, 1, 28)}


def test_wt2013_icpc_target_is_fifteen_working_days_after_the_strategy_discussion() -> None:
    child = "C-2024-june"
    j = Journey("wt2013", child)
    ref = referral(child, at(2024, 6, 3))
    j.feed(ref)
    sd = strategy(child, ref["payload"]["referral_id"], at(2024, 6, 5, 9))  # Wednesday
    j.feed(sd)
    booking = j.record.conferences[icpc_id(child, UUID(sd["payload"]["strategy_id"]))]
    assert booking.target_date == date(2024, 6, 26)  # DOMAIN.md §2's worked example
    assert booking.reports_due_by == eod(2024, 6, 24)


# -- WT 2010 ---------------------------------------------------------------------------------------


def test_wt2010_journey_over_the_2012_jubilee_to_the_plan_ending() -> None:
    child = "C-2012-journey"
    j = Journey("wt2010", child)
    ref = referral(child, at(2012, 5, 22, 11))  # Tuesday
    j.feed(ref)
    rid = ref["payload"]["referral_id"]
    # WT 2010: an initial assessment in 10 WD, over the moved spring bank holiday (4 June) and
    # the diamond jubilee (5 June): Thursday 7 June 2012.
    assert due_and_status(j.clocks("initial_assessment")[0]) == (
        eod(2012, 6, 7),
        TimerStatus.OPEN,
    )
    assert j.clocks("assessment") == []

    # Thursday 24 May: strategy discussion → ICPC +15 WD over both holidays: Monday 18 June.
    sd = strategy(child, rid, at(2012, 5, 24))
    booked = j.feed(sd)
    en = s47(child, sd, at(2012, 5, 24, 11))
    j.feed(en)
    conf = icpc_id(child, UUID(sd["payload"]["strategy_id"]))
    assert j.record.conferences[conf].target_date == date(2012, 6, 18)
    assert j.record.conferences[conf].policy == "wt2010"
    assert {i.payload.reports_due_by for i in booked.issued} == {eod(2012, 6, 14)}
    assert j.clocks("icpc")[0].due_at == eod(2012, 6, 18)

    plan = new_id()
    j.feed(icpc(child, en, at(2012, 6, 15), plan_id=plan, category="PHY"))  # Friday
    # Three months on is Saturday 15 September 2012: the review is due by Friday 14 September.
    first_review = review_id(UUID(plan), 1)
    assert j.record.conferences[first_review].target_date == date(2012, 9, 14)
    assert j.record.conferences[first_review].reports_due_by == eod(2012, 9, 12)
    j.feed(core_group(child, plan, at(2012, 6, 27)))
    j.feed(visit(child, plan, at(2012, 8, 21)))  # next due over the August bank holiday
    j.feed(rcpc(child, plan, at(2012, 9, 13), continues=True))
    second_review = review_id(UUID(plan), 2)
    assert j.record.conferences[second_review].target_date == date(2013, 3, 13)
    assert j.record.conferences[second_review].reports_due_by == eod(2013, 3, 11)
    j.feed(rcpc(child, plan, at(2013, 3, 12), continues=False))
    j.feed(plan_ended(child, plan, at(2013, 3, 12, 12)))

    expected = {
        "icpc": [(eod(2012, 6, 18), TimerStatus.MET)],
        "first_core_group": [(eod(2012, 6, 29), TimerStatus.MET)],
        "core_group": [(eod(2012, 8, 8), TimerStatus.CANCELLED)],
        "cp_visit": [(eod(2012, 6, 29), TimerStatus.MET), (eod(2012, 9, 5), TimerStatus.CANCELLED)],
        "first_review": [(eod(2012, 9, 15), TimerStatus.MET)],
        "review": [(eod(2013, 3, 13), TimerStatus.MET)],
    }
    assert {k: [due_and_status(t) for t in j.clocks(k)] for k in expected} == expected
    assert j.record.plans[UUID(plan)].status is PlanStatus.ENDED


@pytest.mark.parametrize("policy", ["wt2013", "wt2010"])
def test_both_policies_book_the_same_conference_dates(policy: str) -> None:
    child = f"C-{policy}"
    j = Journey(policy, child)
    ref = referral(child, at(2025, 12, 15))
    j.feed(ref)
    # Friday 19 December 2025: +15 WD over Christmas, Boxing Day and New Year's Day.
    sd = strategy(child, ref["payload"]["referral_id"], at(2025, 12, 19))
    j.feed(sd)
    booking = j.record.conferences[icpc_id(child, UUID(sd["payload"]["strategy_id"]))]
    assert (booking.target_date, booking.policy) == (date(2026, 1, 14), policy)
