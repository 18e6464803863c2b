"""Conferences themselves: agencies' reports, the ICPC and the reviews being held.

A report is recorded against the conference's deadline: on time only when shared with the parents
by then (a later resubmission never undoes an on-time one); the reports received so far are
checked against the quorum rule, so a conference heading for no quorum shows before it is held.
A held ICPC is matched to its booking (by id, by the s47 it follows, or the child's one pending
ICPC), records attendance, quorum and outcome; with a plan, the plan starts on the conference date
and the first review is booked. A held review records the same, updates the plan's latest
category and, while the plan continues, books the next review. Quorum at a conference is judged
on the agencies the case system says attended; when it names none, quorum is unknown (None).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from schemas.envelope import Agency
from schemas.events.conferences import (
    ConferenceKind,
    ConferenceReportSubmitted,
    IcpcHeld,
    IcpcHeldPayload,
    RcpcHeld,
)
from services.conferences.domain import invariants as rule
from services.conferences.domain.booking import StepContext, ordered, schedule_review
from services.conferences.domain.invitations import icpc_id
from services.conferences.domain.schedule import icpc_target, reports_due_by, review_target
from services.conferences.domain.state import (
    ChildFile,
    Conference,
    ConferenceStatus,
    Enquiry,
    EnquiryStatus,
    Plan,
    Report,
)

Step = tuple[ChildFile, str]


def report_submitted(child: ChildFile, e: ConferenceReportSubmitted, ctx: StepContext) -> Step:
    p = e.payload
    conference = child.conferences.get(p.conference_id)
    if conference is None:
        raise rule.InvariantViolation(
            f"the {p.agency.value} report {p.report_id} is for conference {p.conference_id}, "
            f"which is not on child {child.child_id}'s record: reports answer the conference id "
            "in frontdoor's invitation"
        )
    earlier = conference.report_of(p.agency)
    on_time = p.shared_with_family and p.submitted_at <= conference.reports_due_by
    report = Report(
        agency=p.agency,
        report_id=p.report_id,
        submitted_at=p.submitted_at,
        shared_with_family=p.shared_with_family or bool(earlier and earlier.shared_with_family),
        on_time=on_time or bool(earlier and earlier.on_time),
    )
    others = [r for r in conference.reports if r.agency is not p.agency]
    reports = tuple(sorted([*others, report], key=lambda r: list(Agency).index(r.agency)))
    updated = conference.model_copy(
        update={
            "reports": reports,
            "quorate_on_reports": ctx.rules.quorum.is_met(r.agency for r in reports),
        }
    )
    return child.with_conference(updated), "report_on_time" if report.on_time else "report_late"


def _match_icpc(child: ChildFile, p: IcpcHeldPayload) -> Conference | None:
    exact = child.conferences.get(p.conference_id)
    if exact is not None and exact.kind is ConferenceKind.ICPC:
        return exact
    for conference in child.conferences.values():
        if conference.kind is ConferenceKind.ICPC and (
            conference.recorded_conference_id == p.conference_id or conference.s47_id == p.s47_id
        ):
            return conference
    enquiry = child.enquiries.get(p.s47_id)
    if enquiry is not None and enquiry.strategy_id is not None:
        linked = child.conferences.get(icpc_id(child.child_id, enquiry.strategy_id))
        if linked is not None:
            return linked
    pending = child.pending(ConferenceKind.ICPC)
    return pending[0] if len(pending) == 1 else None


def _held(
    conference: Conference,
    ctx: StepContext,
    *,
    at: datetime,
    recorded: UUID,
    attending: tuple[Agency, ...],
    invited: tuple[Agency, ...],
    outcome: str,
) -> Conference:
    invited_all = ordered(set(conference.invited) | set(invited))
    return conference.model_copy(
        update={
            "status": ConferenceStatus.HELD,
            "conference_at": at,
            "recorded_conference_id": recorded,
            "attending": ordered(set(attending)),
            "invited": invited_all,
            "quorate": ctx.rules.quorum.is_met(attending) if attending else None,
            "quorate_on_invitations": ctx.rules.quorum.is_met(invited_all),
            "outcome": outcome,
        }
    )


def _unbooked(
    ctx: StepContext,
    conference_id: UUID,
    kind: ConferenceKind,
    *,
    started: datetime,
    target: date,
    held_at: datetime,
    **links: Any,
) -> Conference:
    """A conference held without frontdoor having booked it (no invitations were issued)."""
    return Conference(
        conference_id=conference_id,
        kind=kind,
        policy=ctx.rules.name,
        clock_started_at=started,
        target_date=target,
        issued_at=held_at,
        reports_due_by=reports_due_by(target, held_at, ctx.rules, ctx.calendar),
        invited=(),
        **links,
    )


def icpc_held(child: ChildFile, e: IcpcHeld, ctx: StepContext) -> Step:
    p = e.payload
    referral = child.referrals.get(p.referral_id)
    rule.not_after_nfa("an ICPC", referral)
    rule.working_day("the ICPC", p.conference_at, ctx.calendar)
    rule.not_before_referral("CP plan start" if p.plan else "ICPC date", p.conference_at, referral)
    conference = _match_icpc(child, p)
    if conference is not None and conference.conference_at is not None:
        raise rule.InvariantViolation(
            f"the ICPC for section 47 enquiry {p.s47_id} was already recorded as held on "
            f"{rule.day(conference.conference_at)}; a second ICPC on "
            f"{rule.day(p.conference_at)} cannot follow the same enquiry"
        )
    enquiry = child.enquiries.get(p.s47_id)
    if enquiry is not None:
        rule.not_before(
            "the ICPC",
            p.conference_at,
            "the start of the section 47 enquiry it follows",
            enquiry.started_at,
        )
    if p.plan_id is not None:
        rule.one_open_plan(p.conference_at, child.open_plans())
        if p.plan_id in child.plans:
            raise rule.InvariantViolation(
                f"CP plan {p.plan_id} already exists on the record; a new plan needs a new plan_id"
            )
    if conference is None:
        start = enquiry.started_at if enquiry and enquiry.started_at else p.conference_at
        conference = _unbooked(
            ctx,
            p.conference_id,
            ConferenceKind.ICPC,
            started=start,
            target=icpc_target(start, ctx.rules, ctx.calendar),
            held_at=p.conference_at,
            strategy_id=enquiry.strategy_id if enquiry else None,
        )
    held = _held(
        conference,
        ctx,
        at=p.conference_at,
        recorded=p.conference_id,
        attending=p.attending_agencies,
        invited=p.invited_agencies,
        outcome="plan" if p.plan else "no_plan",
    ).model_copy(
        update={
            "s47_id": p.s47_id,
            "plan_id": p.plan_id,
            "referral_id": conference.referral_id or p.referral_id,
        }
    )
    child = child.with_conference(held)
    enquiry = enquiry or Enquiry(s47_id=p.s47_id, referral_id=p.referral_id)
    if enquiry.open or enquiry.ended_at is None:
        conferenced = {"status": EnquiryStatus.CONFERENCED, "ended_at": p.conference_at}
        child = child.with_enquiry(enquiry.model_copy(update=conferenced))
    if p.plan_id is None or p.category is None:
        return child, "icpc_held_no_plan"
    plan = Plan(
        plan_id=p.plan_id,
        referral_id=held.referral_id,
        icpc_conference_id=held.conference_id,
        started_at=p.conference_at,
        initial_category=p.category,
        latest_category=p.category,
    )
    child = schedule_review(
        ctx, child.with_plan(plan), plan, after=p.conference_at, named=held.invited
    )
    return child, "icpc_held_plan_started"


def rcpc_held(child: ChildFile, e: RcpcHeld, ctx: StepContext) -> Step:
    p = e.payload
    plan = rule.known_plan("the review conference", p.plan_id, child)
    rule.working_day("the review conference", p.conference_at, ctx.calendar)
    rule.within_plan("the review conference", p.conference_at, plan)
    rule.not_before(
        "the review conference", p.conference_at, "the previous review", plan.last_review_at
    )
    exact = child.conferences.get(p.conference_id)
    if exact is not None and exact.status is ConferenceStatus.HELD:
        raise rule.InvariantViolation(
            f"review conference {p.conference_id} was already recorded as held"
        )
    pending = [c for c in child.pending(ConferenceKind.RCPC) if c.plan_id == plan.plan_id]
    conference = exact if exact is not None and exact.pending else next(iter(pending), None)
    if conference is None:
        start = plan.last_review_at or plan.started_at
        months = ctx.rules.review_months if plan.reviews else ctx.rules.first_review_months
        conference = _unbooked(
            ctx,
            p.conference_id,
            ConferenceKind.RCPC,
            started=start,
            target=review_target(start, months, ctx.calendar),
            held_at=p.conference_at,
            referral_id=plan.referral_id,
            plan_id=plan.plan_id,
            sequence=plan.reviews + 1,
        )
    held = _held(
        conference,
        ctx,
        at=p.conference_at,
        recorded=p.conference_id,
        attending=p.attending_agencies,
        invited=p.invited_agencies,
        outcome="plan_continues" if p.plan_continues else "plan_to_end",
    )
    plan = plan.model_copy(
        update={
            "reviews": plan.reviews + 1,
            "last_review_at": p.conference_at,
            "latest_category": p.latest_category or plan.latest_category,
            "review_decided_to_end": not p.plan_continues,
        }
    )
    child = child.with_conference(held).with_plan(plan)
    if not p.plan_continues:
        return child, "rcpc_held_plan_to_end"
    child = schedule_review(ctx, child, plan, after=p.conference_at, named=held.invited)
    return child, "rcpc_held_plan_continues"
