"""Referrals and section 47 enquiries: what books an ICPC, and what ends an episode.

A referral is recorded for its date (nothing may start before it) and its closure (nothing may
happen on a referral closed as no further action). A strategy discussion that starts an s47, or the
``s47.started`` it led to, whichever is read first, books the ICPC: target +N working days from
that moment (the first one wins, as the SLA's ICPC clock does), the agencies that took part plus
the council's usual invitees invited. A second open s47 is refused. An s47 completed without need
for an ICPC cancels the booking; a closed case closes its enquiries, ends its plans and cancels
its pending conferences.
"""

from __future__ import annotations

from uuid import UUID

from schemas.events.casework import CaseClosed, ReferralAccepted
from schemas.events.conferences import ConferenceKind
from schemas.events.enquiries import (
    S47Completed,
    S47Started,
    StrategyDiscussionHeld,
    StrategyOutcome,
)
from services.conferences.domain import invariants as rule
from services.conferences.domain.booking import (
    StepContext,
    cancel_conference,
    ordered,
    schedule_conference,
)
from services.conferences.domain.invitations import icpc_id
from services.conferences.domain.plans import CLOSED_WITH_THE_CASE, end_plan
from services.conferences.domain.schedule import icpc_target
from services.conferences.domain.state import ChildFile, Enquiry, EnquiryStatus, Referral

Step = tuple[ChildFile, str]


def referral_accepted(child: ChildFile, e: ReferralAccepted, _ctx: StepContext) -> Step:
    p = e.payload
    known = child.referrals.get(p.referral_id) or Referral(referral_id=p.referral_id)
    return child.with_referral(known.model_copy(update={"referral_at": p.referral_at})), "referral"


def _in_progress_elsewhere(child: ChildFile, strategy_id: UUID, s47_id: UUID | None) -> None:
    """A pending ICPC booked from another strategy discussion is an s47 still in progress."""
    for conference in child.pending(ConferenceKind.ICPC):
        if conference.strategy_id not in (None, strategy_id) and conference.s47_id != s47_id:
            raise rule.InvariantViolation(
                f"strategy discussion {strategy_id} would start a second section 47 enquiry while "
                f"the one from strategy discussion {conference.strategy_id} (started "
                f"{rule.day(conference.clock_started_at)}) is still awaiting its ICPC (DfE CIN "
                "census rule: no two open section 47 enquiries)"
            )


def strategy_held(child: ChildFile, e: StrategyDiscussionHeld, ctx: StepContext) -> Step:
    p = e.payload
    rule.not_after_nfa("a strategy discussion", child.referrals.get(p.referral_id))
    if p.outcome is not StrategyOutcome.SECTION_47:
        return child, "strategy_without_s47"
    _in_progress_elsewhere(child, p.strategy_id, None)
    conference_id = icpc_id(child.child_id, p.strategy_id)
    existing = child.conferences.get(conference_id)
    if existing is None:
        child = schedule_conference(
            ctx,
            child,
            conference_id=conference_id,
            kind=ConferenceKind.ICPC,
            clock_started_at=p.held_at,
            target=icpc_target(p.held_at, ctx.rules, ctx.calendar),
            issued_at=e.occurred_at,
            named=p.agencies,
            referral_id=p.referral_id,
            strategy_id=p.strategy_id,
        )
        return child, "icpc_scheduled"
    new = set(ctx.rules.invitations.invitees(p.agencies)) - set(existing.invited)
    if not new or not existing.pending:
        return child, "icpc_already_scheduled"
    invited = ordered(set(existing.invited) | new)
    ctx.invite(child.child_id, existing, ordered(new))
    updated = existing.model_copy(
        update={"invited": invited, "quorate_on_invitations": ctx.rules.quorum.is_met(invited)}
    )
    return child.with_conference(updated), "icpc_invitations_added"


def s47_started(child: ChildFile, e: S47Started, ctx: StepContext) -> Step:
    p = e.payload
    referral = child.referrals.get(p.referral_id)
    rule.not_after_nfa("a section 47 enquiry", referral)
    rule.not_before_referral("Section 47 enquiry start", p.started_at, referral)
    if p.s47_id in child.enquiries:
        return child, "s47_already_recorded"
    rule.one_open_enquiry(p.s47_id, p.started_at, child.open_enquiries())
    _in_progress_elsewhere(child, p.strategy_id, p.s47_id)
    child = child.with_enquiry(
        Enquiry(
            s47_id=p.s47_id,
            referral_id=p.referral_id,
            strategy_id=p.strategy_id,
            started_at=p.started_at,
        )
    )
    conference_id = icpc_id(child.child_id, p.strategy_id)
    existing = child.conferences.get(conference_id)
    if existing is not None:
        return child.with_conference(existing.model_copy(update={"s47_id": p.s47_id})), "s47"
    child = schedule_conference(
        ctx,
        child,
        conference_id=conference_id,
        kind=ConferenceKind.ICPC,
        clock_started_at=p.started_at,
        target=icpc_target(p.started_at, ctx.rules, ctx.calendar),
        issued_at=e.occurred_at,
        named=(),
        referral_id=p.referral_id,
        strategy_id=p.strategy_id,
        s47_id=p.s47_id,
    )
    return child, "icpc_scheduled"


def s47_completed(child: ChildFile, e: S47Completed, _ctx: StepContext) -> Step:
    p = e.payload
    enquiry = child.enquiries.get(p.s47_id) or Enquiry(s47_id=p.s47_id, referral_id=p.referral_id)
    if enquiry.open:
        enquiry = enquiry.model_copy(
            update={"status": EnquiryStatus.COMPLETED, "ended_at": p.completed_at}
        )
    child = child.with_enquiry(enquiry)
    if p.icpc_required:
        return child, "s47_completed"
    for conference in child.pending(ConferenceKind.ICPC):
        linked = conference.s47_id == p.s47_id or (
            enquiry.strategy_id is not None and conference.strategy_id == enquiry.strategy_id
        )
        if linked:
            cancelled = cancel_conference(conference, p.completed_at, "icpc_not_required")
            child = child.with_conference(cancelled)
    return child, "s47_completed_no_icpc"


def case_closed(child: ChildFile, e: CaseClosed, _ctx: StepContext) -> Step:
    p = e.payload
    if p.referral_nfa:
        rule.nfa_closure_allowed(p.referral_id, child)
    known = child.referrals.get(p.referral_id) or Referral(referral_id=p.referral_id)
    child = child.with_referral(
        known.model_copy(update={"closed_at": p.closed_at, "nfa": p.referral_nfa})
    )
    for enquiry in child.open_enquiries():
        if enquiry.referral_id == p.referral_id:
            closed = {"status": EnquiryStatus.CLOSED, "ended_at": p.closed_at}
            child = child.with_enquiry(enquiry.model_copy(update=closed))
    ended: set[UUID] = set()
    for plan in child.open_plans():
        if plan.referral_id == p.referral_id:
            ended.add(plan.plan_id)
            child = child.with_plan(end_plan(plan, p.closed_at, CLOSED_WITH_THE_CASE))
    for conference in list(child.conferences.values()):
        if conference.pending and (
            conference.referral_id == p.referral_id or conference.plan_id in ended
        ):
            child = child.with_conference(cancel_conference(conference, p.closed_at, "case_closed"))
    return child, "case_closed"
