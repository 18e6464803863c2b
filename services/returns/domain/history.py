"""A child's history folded from their events: contacts, and episodes from referral to closure.

``fold_child`` takes one child's events (already parsed and upcast by ``schemas.registry``), in
any order, and links them by the ids the contract carries: ``referral_id`` ties assessments,
strategy discussions, section 47 enquiries, conferences and the closure to their CIN episode;
``s47_id`` ties an ICPC to its enquiry; ``plan_id`` ties reviews, visits and the plan's end to the
plan the ICPC made. Events at or after ``until`` are ignored, so a return sees the history as it
stood at its cut-off. An event that names something the history does not hold (an authorisation
without its start, an enquiry without its referral) is kept as an anomaly for the export's checks
instead of being dropped or guessed into place. Pure: no clock, no I/O.

The history's values are frozen, slotted dataclasses rather than pydantic models: every value in
them was validated already as part of a contract event, and a borough's year folds tens of
thousands of children, where re-validating (or even ``model_construct``) costs whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.codes import (
    AssessmentFactor,
    CategoryOfAbuse,
    PrimaryNeedCode,
    ReasonForClosure,
    ReferralSource,
)
from schemas.envelope import EventBase
from schemas.events.casework import (
    AssessmentAuthorised,
    AssessmentOutcome,
    AssessmentStarted,
    CaseClosed,
    ReferralAccepted,
    VisitKind,
    VisitRecorded,
)
from schemas.events.conferences import CpPlanEnded, IcpcHeld, RcpcHeld
from schemas.events.contacts import ContactReceived, PoliceDaNotification
from schemas.events.emergencies import PoliceProtectionStarted
from schemas.events.enquiries import S47Completed, S47Started, StrategyDiscussionHeld
from services.returns.domain.details import KnownDetails, merge_details


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: UUID
    at: datetime
    source: ReferralSource


@dataclass(frozen=True, slots=True)
class Assessment:
    assessment_id: UUID
    started_at: datetime
    team: str
    worker: str | None
    authorised_at: datetime | None = None
    child_seen: bool | None = None
    factors: tuple[AssessmentFactor, ...] = ()
    outcome: AssessmentOutcome | None = None

    @property
    def requires_support(self) -> bool | None:
        """Annex A: assessed as requiring LA children's social care support (None while open)."""
        if self.outcome is None:
            return None
        return self.outcome in {
            AssessmentOutcome.CIN_PLAN,
            AssessmentOutcome.SECTION_47,
            AssessmentOutcome.FURTHER_ACTION,
        }


@dataclass(frozen=True, slots=True)
class Section47:
    s47_id: UUID
    started_at: datetime
    strategy_held_at: datetime | None
    completed_at: datetime | None = None
    icpc_required: bool | None = None
    icpc_at: datetime | None = None
    icpc_made_plan: bool | None = None


@dataclass(frozen=True, slots=True)
class Review:
    at: datetime
    plan_continues: bool
    latest_category: CategoryOfAbuse | None


@dataclass(frozen=True, slots=True)
class Visit:
    at: datetime
    child_seen: bool
    seen_alone: bool


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: UUID
    started_at: datetime
    initial_category: CategoryOfAbuse
    reviews: tuple[Review, ...] = ()
    visits: tuple[Visit, ...] = ()
    ended_at: datetime | None = None

    def latest_category(self, until: datetime | None = None) -> CategoryOfAbuse:
        """The category set by the last review that continued the plan (before ``until``)."""
        category = self.initial_category
        for review in self.reviews:
            if (until is None or review.at < until) and review.latest_category is not None:
                category = review.latest_category
        return category


@dataclass(frozen=True, slots=True)
class Allocation:
    at: datetime
    team: str
    worker: str | None


@dataclass(frozen=True, slots=True)
class Episode:
    """One CIN episode: the referral and everything done under it until its closure."""

    referral_id: UUID
    referral_at: datetime
    source: ReferralSource
    primary_need: PrimaryNeedCode
    allocations: tuple[Allocation, ...]
    assessments: tuple[Assessment, ...] = ()
    s47s: tuple[Section47, ...] = ()
    plans: tuple[Plan, ...] = ()
    closed_at: datetime | None = None
    closure_reason: ReasonForClosure | None = None
    referral_nfa: bool = False

    def allocation(self, until: datetime | None = None) -> Allocation:
        """The team and worker most recently recorded for the episode (before ``until``)."""
        chosen = self.allocations[0]
        for allocation in self.allocations:
            if until is None or allocation.at < until:
                chosen = allocation
        return chosen


@dataclass(frozen=True, slots=True)
class ChildHistory:
    child_id: str
    details: KnownDetails | None
    contacts: tuple[Contact, ...] = ()
    episodes: tuple[Episode, ...] = ()
    protections: tuple[datetime, ...] = ()
    anomalies: tuple[str, ...] = ()

    @property
    def plans(self) -> tuple[Plan, ...]:
        """Every child protection plan of the child, oldest first."""
        return tuple(
            sorted((p for e in self.episodes for p in e.plans), key=lambda p: p.started_at)
        )


Fields = dict[str, Any]
"""A model's fields while the fold is still gathering them."""


class _EpisodeParts:
    def __init__(self, referral: ReferralAccepted) -> None:
        p = referral.payload
        self.referral = p
        self.allocations: list[Fields] = [{"at": p.referral_at, "team": p.team, "worker": p.worker}]
        self.assessments: dict[UUID, Fields] = {}
        self.s47s: dict[UUID, Fields] = {}
        self.plans: dict[UUID, Fields] = {}
        self.closure: CaseClosed | None = None


class _Fold:
    """Mutable scratch state of one fold; only frozen models leave it."""

    def __init__(self, child_id: str) -> None:
        self.child_id = child_id
        self.details: KnownDetails | None = None
        self.contacts: list[Contact] = []
        self.episodes: dict[UUID, _EpisodeParts] = {}
        self.strategies: dict[UUID, datetime] = {}
        self.plan_episode: dict[UUID, UUID] = {}
        self.protections: list[datetime] = []
        self.anomalies: list[str] = []

    def episode(self, referral_id: UUID, event: EventBase) -> _EpisodeParts | None:
        parts = self.episodes.get(referral_id)
        if parts is None:
            self.anomalies.append(
                f"{event.event_type} {event.event_id} names referral {referral_id}, "
                "which has no referral.accepted in the history"
            )
        return parts


def fold_child(child_id: str, events: Iterable[EventBase], *, until: datetime) -> ChildHistory:
    """Fold one child's events that occurred before ``until`` into their history."""
    fold = _Fold(child_id)
    ordered = sorted(
        (e for e in events if e.occurred_at < until), key=lambda e: (e.occurred_at, e.event_id)
    )
    passes: tuple[list[EventBase], ...] = ([], [], [], [])
    for event in ordered:
        passes[_PASS.get(event.event_type, 0)].append(event)
    for step, batch in zip(_STEPS, passes, strict=True):
        for event in batch:
            step(fold, event)
    return _freeze(fold)


def _first_pass(fold: _Fold, event: EventBase) -> None:
    """Who the child is, contacts, referrals and strategy discussions: what others link to."""
    if isinstance(event, ContactReceived):
        p = event.payload
        fold.details = merge_details(fold.details, p.child)
        fold.contacts.append(
            Contact(contact_id=p.contact_id, at=p.contact_at, source=p.referral_source)
        )
    elif isinstance(event, PoliceDaNotification):
        q = event.payload
        fold.details = merge_details(fold.details, q.child)
        fold.contacts.append(
            Contact(contact_id=q.contact_id, at=q.contact_at, source=ReferralSource.POLICE)
        )
    elif isinstance(event, ReferralAccepted):
        fold.details = merge_details(fold.details, event.payload.child)
        fold.episodes[event.payload.referral_id] = _EpisodeParts(event)
    elif isinstance(event, StrategyDiscussionHeld):
        fold.strategies[event.payload.strategy_id] = event.payload.held_at
    elif isinstance(event, PoliceProtectionStarted):
        fold.protections.append(event.payload.started_at)


def _second_pass(fold: _Fold, event: EventBase) -> None:
    """Assessments and enquiries started, each placed in its episode."""
    if isinstance(event, AssessmentStarted):
        a = event.payload
        parts = fold.episode(a.referral_id, event)
        if parts is not None:
            parts.assessments[a.assessment_id] = {
                "assessment_id": a.assessment_id,
                "started_at": a.started_at,
                "team": a.team,
                "worker": a.worker,
            }
            parts.allocations.append({"at": a.started_at, "team": a.team, "worker": a.worker})
    elif isinstance(event, S47Started):
        s = event.payload
        parts = fold.episode(s.referral_id, event)
        if parts is not None:
            parts.s47s[s.s47_id] = {
                "s47_id": s.s47_id,
                "started_at": s.started_at,
                "strategy_held_at": fold.strategies.get(s.strategy_id),
            }


def _outcomes_pass(fold: _Fold, event: EventBase) -> None:
    """Authorisations, enquiry outcomes, ICPCs and closures (whatever order they were sent in)."""
    if isinstance(event, AssessmentAuthorised):
        b = event.payload
        parts = fold.episode(b.referral_id, event)
        started = parts.assessments.get(b.assessment_id) if parts else None
        if parts is not None and started is None:
            fold.anomalies.append(f"assessment {b.assessment_id} was authorised but never started")
        elif started is not None:
            started.update(
                authorised_at=b.authorised_at,
                child_seen=b.child_seen,
                factors=b.factors,
                outcome=b.outcome,
            )
    elif isinstance(event, S47Completed):
        c = event.payload
        parts = fold.episode(c.referral_id, event)
        if parts is not None:
            _update_s47(
                fold, parts, c.s47_id, completed_at=c.completed_at, icpc_required=c.icpc_required
            )
    elif isinstance(event, IcpcHeld):
        i = event.payload
        parts = fold.episode(i.referral_id, event)
        if parts is not None:
            _update_s47(fold, parts, i.s47_id, icpc_at=i.conference_at, icpc_made_plan=i.plan)
            if i.plan_id is not None and i.category is not None:
                parts.plans[i.plan_id] = {
                    "plan_id": i.plan_id,
                    "started_at": i.conference_at,
                    "initial_category": i.category,
                    "reviews": [],
                    "visits": [],
                }
                fold.plan_episode[i.plan_id] = i.referral_id
    elif isinstance(event, CaseClosed):
        parts = fold.episode(event.payload.referral_id, event)
        if parts is not None:
            parts.closure = event


def _update_s47(fold: _Fold, parts: _EpisodeParts, s47_id: UUID, **changes: object) -> None:
    known = parts.s47s.get(s47_id)
    if known is None:
        fold.anomalies.append(f"section 47 enquiry {s47_id} has an outcome but never started")
        return
    known.update(changes)


def _third_pass(fold: _Fold, event: EventBase) -> None:
    """Reviews, statutory visits and plan ends, each placed on its plan."""
    if isinstance(event, RcpcHeld):
        r = event.payload
        plan = _plan(fold, r.plan_id, event)
        if plan is not None:
            plan["reviews"].append(
                Review(
                    at=r.conference_at,
                    plan_continues=r.plan_continues,
                    latest_category=r.latest_category,
                )
            )
    elif isinstance(event, VisitRecorded) and event.payload.kind is VisitKind.CP_STATUTORY:
        v = event.payload
        plan = _plan(fold, v.plan_id, event) if v.plan_id is not None else None
        if plan is not None:
            plan["visits"].append(
                Visit(at=v.visit_at, child_seen=v.child_seen, seen_alone=v.seen_alone)
            )
    elif isinstance(event, CpPlanEnded):
        plan = _plan(fold, event.payload.plan_id, event)
        if plan is not None:
            plan["ended_at"] = event.payload.ended_at


def _plan(fold: _Fold, plan_id: UUID, event: EventBase) -> Fields | None:
    referral_id = fold.plan_episode.get(plan_id)
    if referral_id is None:
        fold.anomalies.append(
            f"{event.event_type} {event.event_id} names plan {plan_id}, which no ICPC made"
        )
        return None
    return fold.episodes[referral_id].plans[plan_id]


_PASS = {
    "assessment.started": 1,
    "s47.started": 1,
    "assessment.authorised": 2,
    "s47.completed": 2,
    "conference.icpc_held": 2,
    "case.closed": 2,
    "conference.rcpc_held": 3,
    "visit.recorded": 3,
    "cp_plan.ended": 3,
}
"""Which pass places each event type (0, the default: details, contacts, referrals, strategy
discussions and police protection). Each pass needs only what earlier passes placed."""
_STEPS = (_first_pass, _second_pass, _outcomes_pass, _third_pass)


def _freeze(fold: _Fold) -> ChildHistory:
    """The gathered fields as frozen models (values already validated as contract events)."""
    episodes = []
    for parts in fold.episodes.values():
        r = parts.referral
        closure = parts.closure.payload if parts.closure else None
        plans = [
            Plan(**{**f, "reviews": tuple(f["reviews"]), "visits": tuple(f["visits"])})
            for f in parts.plans.values()
        ]
        episodes.append(
            Episode(
                referral_id=r.referral_id,
                referral_at=r.referral_at,
                source=r.referral_source,
                primary_need=r.primary_need,
                allocations=tuple(
                    Allocation(**f) for f in sorted(parts.allocations, key=lambda f: f["at"])
                ),
                assessments=tuple(
                    Assessment(**f)
                    for f in sorted(parts.assessments.values(), key=lambda f: f["started_at"])
                ),
                s47s=tuple(
                    Section47(**f)
                    for f in sorted(parts.s47s.values(), key=lambda f: f["started_at"])
                ),
                plans=tuple(sorted(plans, key=lambda p: p.started_at)),
                closed_at=closure.closed_at if closure else None,
                closure_reason=closure.reason if closure else None,
                referral_nfa=closure.referral_nfa if closure else False,
            )
        )
    return ChildHistory(
        child_id=fold.child_id,
        details=fold.details,
        contacts=tuple(sorted(fold.contacts, key=lambda c: c.at)),
        episodes=tuple(sorted(episodes, key=lambda e: e.referral_at)),
        protections=tuple(sorted(fold.protections)),
        anomalies=tuple(fold.anomalies),
    )
