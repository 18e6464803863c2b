"""What one casework event does to a child's conference record: the pure decision the handler saves.

`apply_event(child, event, rules=…, calendar=…)` checks the event against the child's record
(`invariants.py`; a violation raises `InvariantViolation` and changes nothing) and returns an
`Outcome`: the new `ChildFile`, the invitations to publish and a word for the log. The steps live
by subject: `enquiries.py` (referrals, strategy discussions, s47s, closure: what books an ICPC),
`conferencing.py` (reports, ICPCs and reviews held: what starts a plan and books reviews) and
`plans.py` (core groups, visits, the plan's end). `referrals_named` says which referrals a batch
needs loaded with its children's records. The clocks (ICPC, core groups, reviews, visits,
reports) are SLA timers started from the same events and from these invitations; nothing here
counts them down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from schemas.envelope import EventBase
from schemas.events.conferences import ConferenceInvitationIssued
from services.common.calendar import WorkingCalendar
from services.conferences.domain import conferencing, enquiries, plans
from services.conferences.domain.booking import StepContext
from services.conferences.domain.rules import ConferenceRules
from services.conferences.domain.state import ChildFile


@dataclass(frozen=True)
class Outcome:
    """The child's record after the event, the invitations to publish, and what happened."""

    child: ChildFile
    action: str
    issued: tuple[ConferenceInvitationIssued, ...] = ()


_Step = Callable[[ChildFile, Any, StepContext], tuple[ChildFile, str]]

_STEPS: dict[str, _Step] = {
    "referral.accepted": enquiries.referral_accepted,
    "case.closed": enquiries.case_closed,
    "strategy_discussion.held": enquiries.strategy_held,
    "s47.started": enquiries.s47_started,
    "s47.completed": enquiries.s47_completed,
    "conference.report_submitted": conferencing.report_submitted,
    "conference.icpc_held": conferencing.icpc_held,
    "conference.rcpc_held": conferencing.rcpc_held,
    "core_group.held": plans.core_group_held,
    "visit.recorded": plans.visit_recorded,
    "cp_plan.ended": plans.plan_ended,
}

HANDLED_EVENT_TYPES = frozenset(_STEPS)
"""The casework event types the conferences service reads; it ignores every other one."""


def apply_event(
    child: ChildFile,
    event: EventBase,
    *,
    rules: ConferenceRules,
    calendar: WorkingCalendar,
) -> Outcome:
    """The child's record after `event`, with the invitations it issues.

    Raises `InvariantViolation` (nothing changes) when the event breaks a rule of the record;
    an event type the service does not read returns the record unchanged.
    """
    step = _STEPS.get(event.event_type)
    if step is None:
        return Outcome(child, "ignored")
    ctx = StepContext(rules=rules, calendar=calendar, event=event)
    after, action = step(child, event, ctx)
    return Outcome(after, action, tuple(ctx.issued))


def referrals_named(events: Iterable[EventBase]) -> dict[str, list[UUID]]:
    """Per child, the referrals `events` name: their records are loaded with the child's."""
    named: dict[str, list[UUID]] = {}
    for event in events:
        referral_id = getattr(event.payload, "referral_id", None)
        if isinstance(referral_id, UUID):
            named.setdefault(event.subject.child_id, []).append(referral_id)
    return named
