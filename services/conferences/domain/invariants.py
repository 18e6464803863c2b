"""The rules of the child protection record (DOMAIN.md §6), with messages a data officer reads.

Each check takes what it compares and raises `InvariantViolation` when the event would break the
child's record: an s47, ICPC or CP plan dated before its referral, a second open s47 or CP plan,
a review, core group or visit outside its plan's life, activity on a referral closed as no further
action, a conference on a bank holiday, an event about a plan or conference the record does not
hold. The handler dead-letters the event (reason ``validation``) with the message, so it never
reaches the views and can be replayed once the record is corrected. Dates are compared as London
calendar dates, as the DfE census compares them.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from services.common.calendar import WorkingCalendar, to_london
from services.conferences.domain.state import ChildFile, Enquiry, Plan, Referral


class InvariantViolation(ValueError):  # noqa: N818 - it is the name a dead letter carries
    """The event would break a rule of the child's record; it is dead-lettered, never applied."""


def day(moment: datetime) -> date:
    """The London calendar date of an instant."""
    return to_london(moment).date()


def not_before_referral(what: str, at: datetime, referral: Referral | None) -> None:
    """`what` (e.g. "CP plan start") on `at` must not be before the referral's date."""
    if referral is None or referral.referral_at is None:
        return
    if day(at) < day(referral.referral_at):
        raise InvariantViolation(
            f"{what} {day(at).isoformat()} is before the referral on "
            f"{day(referral.referral_at).isoformat()} (DfE CIN census rule: an s47 enquiry, ICPC "
            "or CP plan cannot start before the referral that opened the episode)"
        )


def not_after_nfa(what: str, referral: Referral | None) -> None:
    """No activity on a referral that was closed as no further action."""
    if referral is None or not referral.nfa:
        return
    closed = "" if referral.closed_at is None else f" on {day(referral.closed_at).isoformat()}"
    raise InvariantViolation(
        f"referral {referral.referral_id} was closed as no further action{closed}; {what} on it "
        "is not allowed (DfE CIN census rule: no activity after an NFA referral)"
    )


def nfa_closure_allowed(referral_id: UUID, child: ChildFile) -> None:
    """A referral with an s47 or a conference cannot be closed as no further action."""
    for enquiry in child.enquiries.values():
        if enquiry.referral_id == referral_id:
            started = "" if enquiry.started_at is None else f" started {day(enquiry.started_at)}"
            raise InvariantViolation(
                f"referral {referral_id} cannot be closed as no further action: it has section 47 "
                f"enquiry {enquiry.s47_id}{started} (DfE CIN census rule: no activity after an "
                "NFA referral)"
            )
    for conference in child.conferences.values():
        if conference.referral_id == referral_id and conference.conference_at is not None:
            raise InvariantViolation(
                f"referral {referral_id} cannot be closed as no further action: an ICPC was held "
                f"on {day(conference.conference_at)} (DfE CIN census rule: no activity after an "
                "NFA referral)"
            )


def one_open_enquiry(s47_id: UUID, started_at: datetime, open_enquiries: list[Enquiry]) -> None:
    """No second open section 47 enquiry for the child."""
    for other in open_enquiries:
        if other.s47_id != s47_id:
            since = "" if other.started_at is None else f", started {day(other.started_at)}"
            raise InvariantViolation(
                f"section 47 enquiry {s47_id} starting {day(started_at)} would be a second open "
                f"enquiry: {other.s47_id}{since} is still open (DfE CIN census rule: no two open "
                "section 47 enquiries; record its completion first)"
            )


def one_open_plan(conference_at: datetime, open_plans: list[Plan]) -> None:
    """No second open CP plan for the child."""
    for other in open_plans:
        raise InvariantViolation(
            f"the ICPC on {day(conference_at)} starts a CP plan while plan {other.plan_id} "
            f"(started {other.start_date}) is still open (DfE CIN census rule: no two open child "
            "protection plans; record cp_plan.ended first)"
        )


def working_day(what: str, at: datetime, calendar: WorkingCalendar) -> None:
    """Conferences are held on working days: never a weekend (rule 8875) or a bank holiday."""
    held = day(at)
    if not calendar.is_working_day(held):
        kind = "bank holiday" if calendar.is_bank_holiday(held) else "weekend"
        raise InvariantViolation(
            f"{what} on {held.isoformat()} falls on a {kind}; conferences are held on working "
            "days (DfE CIN census rule 8875 for weekends; bank holidays by local practice)"
        )


def not_before(what: str, at: datetime, earlier_what: str, earlier: datetime | None) -> None:
    """`what` on `at` must not be dated before `earlier_what` on `earlier`."""
    if earlier is not None and day(at) < day(earlier):
        raise InvariantViolation(
            f"{what} on {day(at).isoformat()} is before {earlier_what} on "
            f"{day(earlier).isoformat()}"
        )


def within_plan(what: str, at: datetime, plan: Plan) -> None:
    """A review, core group or visit belongs inside its plan's life."""
    if day(at) < plan.start_date:
        raise InvariantViolation(
            f"{what} on {day(at).isoformat()} is before CP plan {plan.plan_id} started on "
            f"{plan.start_date.isoformat()} (DfE CIN census rule: reviews and plan activity "
            "come after the plan start, which is the ICPC date)"
        )
    if plan.ended_at is not None and day(at) > day(plan.ended_at):
        raise InvariantViolation(
            f"{what} on {day(at).isoformat()} is after CP plan {plan.plan_id} ended on "
            f"{day(plan.ended_at).isoformat()}"
        )


def known_plan(what: str, plan_id: UUID, child: ChildFile) -> Plan:
    """The plan an event names; it must have been started by an ICPC on this child's record."""
    plan = child.plans.get(plan_id)
    if plan is None:
        raise InvariantViolation(
            f"{what} names CP plan {plan_id}, which no ICPC on child {child.child_id}'s record "
            "started; record the ICPC that made the plan, then replay this event"
        )
    return plan
