"""Child protection plans after they start: core groups, statutory visits, and the plan's end.

A core group or CP visit must name a plan on the child's record and fall inside its life (not
before the ICPC that started it, not after it ended); it updates the plan's counts and latest
dates, which the views read. ``cp_plan.ended`` ends an open plan (or corrects the end a case
closure gave it) and cancels its pending review. The clocks (first core group, core group cadence,
CP visits, reviews) are SLA timers started and met by these same events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.events.casework import VisitKind, VisitRecorded
from schemas.events.conferences import ConferenceKind, CoreGroupHeld, CpPlanEnded
from services.conferences.domain import invariants as rule
from services.conferences.domain.booking import StepContext, cancel_conference
from services.conferences.domain.state import ChildFile, Plan, PlanStatus

Step = tuple[ChildFile, str]

CLOSED_WITH_THE_CASE = "case_closed"
"""The end reason of a plan still open when its case closed (cp_plan.ended may correct it)."""


def end_plan(plan: Plan, at: datetime, reason: str) -> Plan:
    return plan.model_copy(
        update={"status": PlanStatus.ENDED, "ended_at": at, "end_reason": reason}
    )


def core_group_held(child: ChildFile, e: CoreGroupHeld, _ctx: StepContext) -> Step:
    p = e.payload
    plan = rule.known_plan("the core group", p.plan_id, child)
    rule.within_plan("the core group", p.held_at, plan)
    last = plan.last_core_group_at
    updated = plan.model_copy(
        update={
            "core_groups": plan.core_groups + 1,
            "last_core_group_at": p.held_at if last is None or p.held_at > last else last,
        }
    )
    return child.with_plan(updated), "core_group"


def visit_recorded(child: ChildFile, e: VisitRecorded, _ctx: StepContext) -> Step:
    p = e.payload
    if p.kind is not VisitKind.CP_STATUTORY or p.plan_id is None:
        return child, "visit_not_cp"
    plan = rule.known_plan("the CP visit", p.plan_id, child)
    rule.within_plan("the CP visit", p.visit_at, plan)
    last, alone = plan.last_visit_at, plan.last_seen_alone_at
    update: dict[str, Any] = {
        "visits": plan.visits + 1,
        "last_visit_at": p.visit_at if last is None or p.visit_at > last else last,
    }
    if p.seen_alone and (alone is None or p.visit_at > alone):
        update["last_seen_alone_at"] = p.visit_at
    return child.with_plan(plan.model_copy(update=update)), "cp_visit"


def plan_ended(child: ChildFile, e: CpPlanEnded, _ctx: StepContext) -> Step:
    p = e.payload
    plan = rule.known_plan("the plan ending", p.plan_id, child)
    if plan.status is PlanStatus.ENDED and plan.end_reason != CLOSED_WITH_THE_CASE:
        assert plan.ended_at is not None
        raise rule.InvariantViolation(
            f"CP plan {plan.plan_id} already ended on {rule.day(plan.ended_at)}; it cannot end "
            f"again on {rule.day(p.ended_at)}"
        )
    rule.not_before("the CP plan end", p.ended_at, "its start (the ICPC)", plan.started_at)
    child = child.with_plan(end_plan(plan, p.ended_at, p.reason.value))
    for conference in child.pending(ConferenceKind.RCPC):
        if conference.plan_id == plan.plan_id:
            child = child.with_conference(cancel_conference(conference, p.ended_at, "plan_ended"))
    return child, "plan_ended"
