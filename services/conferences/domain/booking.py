"""Booking a conference: a new pending ICPC or review with its target, report deadline and invites.

`StepContext` is what every processing step is given: the rules, the calendar, the event being
applied, and the list the step adds its invitations to. `schedule_conference` creates a pending
conference and invites its agencies; `schedule_review` books the next review of a plan
(`first_review_months` after the ICPC, `review_months` after a review); `cancel_conference` ends
one that will not be held (no ICPC needed, plan ended, case closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from schemas.envelope import Agency, EventBase
from schemas.events.conferences import ConferenceInvitationIssued, ConferenceKind
from services.common.calendar import WorkingCalendar
from services.conferences.domain.invitations import invitations_for, review_id
from services.conferences.domain.rules import ConferenceRules
from services.conferences.domain.schedule import reports_due_by, review_target
from services.conferences.domain.state import ChildFile, Conference, ConferenceStatus, Plan

REVIEW_ISSUED_AFTER = timedelta(seconds=1)
"""A review's invitations are issued after the conference that booked it, never at its moment:
the SLA cancels the report clocks started up to a held conference's moment."""


@dataclass(frozen=True)
class StepContext:
    """What a processing step works with, and where it puts the invitations it issues."""

    rules: ConferenceRules
    calendar: WorkingCalendar
    event: EventBase
    issued: list[ConferenceInvitationIssued] = field(default_factory=list)

    def invite(self, child_id: str, conference: Conference, agencies: tuple[Agency, ...]) -> None:
        """Issue the conference's invitations to `agencies` (a subset of its invited list)."""
        only = conference.model_copy(update={"invited": agencies})
        self.issued.extend(
            invitations_for(
                child_id,
                only,
                cause_id=self.event.event_id,
                correlation_id=self.event.correlation_id,
            )
        )


def ordered(agencies: set[Agency]) -> tuple[Agency, ...]:
    """Agencies in the contract's order (stable rows, ids and output)."""
    return tuple(a for a in Agency if a in agencies)


def schedule_conference(
    ctx: StepContext,
    child: ChildFile,
    *,
    conference_id: UUID,
    kind: ConferenceKind,
    clock_started_at: datetime,
    target: date,
    issued_at: datetime,
    named: tuple[Agency, ...],
    **links: Any,
) -> ChildFile:
    """A new pending conference on the child's record, its agencies invited."""
    invited = ctx.rules.invitations.invitees(named)
    conference = Conference(
        conference_id=conference_id,
        kind=kind,
        policy=ctx.rules.name,
        clock_started_at=clock_started_at,
        target_date=target,
        issued_at=issued_at,
        reports_due_by=reports_due_by(target, issued_at, ctx.rules, ctx.calendar),
        invited=invited,
        quorate_on_invitations=ctx.rules.quorum.is_met(invited),
        **links,
    )
    ctx.invite(child.child_id, conference, invited)
    return child.with_conference(conference)


def schedule_review(
    ctx: StepContext,
    child: ChildFile,
    plan: Plan,
    *,
    after: datetime,
    named: tuple[Agency, ...],
) -> ChildFile:
    """Book the plan's next review: its first after the ICPC, later ones after the last review."""
    sequence = plan.reviews + 1
    months = ctx.rules.first_review_months if sequence == 1 else ctx.rules.review_months
    return schedule_conference(
        ctx,
        child,
        conference_id=review_id(plan.plan_id, sequence),
        kind=ConferenceKind.RCPC,
        clock_started_at=after,
        target=review_target(after, months, ctx.calendar),
        issued_at=max(ctx.event.occurred_at, after + REVIEW_ISSUED_AFTER),
        named=named,
        referral_id=plan.referral_id,
        plan_id=plan.plan_id,
        sequence=sequence,
    )


def cancel_conference(conference: Conference, at: datetime, reason: str) -> Conference:
    """The conference will not be held."""
    return conference.model_copy(
        update={"status": ConferenceStatus.CANCELLED, "closed_at": at, "closed_reason": reason}
    )
