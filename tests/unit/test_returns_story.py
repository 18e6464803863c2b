"""A small story-writer for returns tests: one child's events, valid by the contract, by hand.

``Story`` builds the events of one child's case (contacts, referrals, assessments, enquiries,
conferences, visits, plan ends, closures) with fresh ids, parsed by ``schemas.registry`` so they
are exactly what intake would store. The returns unit and integration tests import it; the tests
here check that what it writes is valid and linked the way the contract expects.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from uuid import UUID

from schemas.envelope import LONDON, EventBase
from schemas.registry import parse_event


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A Europe/London wall-clock moment."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def details(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "given_name": "Ava",
        "family_name": "Booth",
        "date_of_birth": "2016-05-20",
        "expected_birth_date": None,
        "sex": "F",
        "ethnicity": "WBRI",
        "upn": None,
        "disabilities": ["NONE"],
    }
    return {**base, **changes}


class Story:
    def __init__(self, child_id: str | None = None, child: dict[str, Any] | None = None) -> None:
        self.child_id = child_id or f"C{uuid.uuid4().hex[:12]}"
        self.child = child if child is not None else details()
        self.raw: list[dict[str, Any]] = []

    @property
    def events(self) -> list[EventBase]:
        return [parse_event(e) for e in self.raw]

    def _emit(
        self,
        event_type: str,
        moment: datetime,
        payload: dict[str, Any],
        *,
        agency: str = "social_care",
        version: int = 1,
    ) -> None:
        self.raw.append(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": event_type,
                "schema_version": version,
                "occurred_at": moment.isoformat(),
                "source": {"agency": agency, "system": "mosaic", "ref": uuid.uuid4().hex[:10]},
                "subject": {"child_id": self.child_id, "family_id": None},
                "payload": payload,
            }
        )

    def contact(self, moment: datetime, source: str = "2A") -> UUID:
        contact_id = uuid.uuid4()
        self._emit(
            "contact.received",
            moment,
            {
                "contact_id": str(contact_id),
                "contact_at": moment.isoformat(),
                "referral_source": source,
                "concern": "neglect",
                "summary": "Concern raised.",
                "child": self.child,
            },
            agency="education",
            version=2,
        )
        return contact_id

    def police_notification(self, moment: datetime) -> UUID:
        contact_id = uuid.uuid4()
        self._emit(
            "police.da_notification",
            moment,
            {
                "contact_id": str(contact_id),
                "contact_at": moment.isoformat(),
                "police_ref": "14/000001/24",
                "incident_at": moment.isoformat(),
                "dash_yes_count": 3,
                "dash_risk_level": "standard",
                "children_present": True,
                "child_injured": False,
                "previous_incidents_12m": 0,
                "summary": "Verbal argument.",
                "child": self.child,
            },
            agency="police",
        )
        return contact_id

    def referral(
        self,
        moment: datetime,
        *,
        source: str = "6",
        team: str = "Team A",
        worker: str | None = "SW001",
        need: str = "N1",
    ) -> UUID:
        referral_id = uuid.uuid4()
        self._emit(
            "referral.accepted",
            moment,
            {
                "referral_id": str(referral_id),
                "referral_at": moment.isoformat(),
                "referral_source": source,
                "primary_need": need,
                "team": team,
                "worker": worker,
                "child": self.child,
            },
        )
        return referral_id

    def assessment(
        self,
        referral: UUID,
        started: datetime,
        authorised: datetime | None = None,
        *,
        factors: tuple[str, ...] = ("3B",),
        outcome: str = "cin_plan",
        seen: bool = True,
        team: str = "Assessment Team",
        worker: str | None = "SW002",
    ) -> UUID:
        assessment_id = uuid.uuid4()
        self._emit(
            "assessment.started",
            started,
            {
                "assessment_id": str(assessment_id),
                "referral_id": str(referral),
                "started_at": started.isoformat(),
                "team": team,
                "worker": worker,
            },
        )
        if authorised is not None:
            self._emit(
                "assessment.authorised",
                max(authorised, started),
                {
                    "assessment_id": str(assessment_id),
                    "referral_id": str(referral),
                    "authorised_at": authorised.isoformat(),
                    "child_seen": seen,
                    "factors": list(factors),
                    "outcome": outcome,
                },
            )
        return assessment_id

    def s47(self, referral: UUID, held: datetime, started: datetime | None = None) -> UUID:
        strategy_id, s47_id = uuid.uuid4(), uuid.uuid4()
        started = started or held
        self._emit(
            "strategy_discussion.held",
            held,
            {
                "strategy_id": str(strategy_id),
                "referral_id": str(referral),
                "held_at": held.isoformat(),
                "agencies": ["social_care", "police"],
                "outcome": "section_47",
            },
        )
        self._emit(
            "s47.started",
            started,
            {
                "s47_id": str(s47_id),
                "strategy_id": str(strategy_id),
                "referral_id": str(referral),
                "started_at": started.isoformat(),
            },
        )
        return s47_id

    def s47_completed(self, referral: UUID, s47: UUID, moment: datetime, *, icpc: bool) -> None:
        self._emit(
            "s47.completed",
            moment,
            {
                "s47_id": str(s47),
                "referral_id": str(referral),
                "completed_at": moment.isoformat(),
                "concerns_substantiated": icpc,
                "icpc_required": icpc,
            },
        )

    def icpc(
        self, referral: UUID, s47: UUID, moment: datetime, *, category: str | None = "NEG"
    ) -> UUID | None:
        plan_id = uuid.uuid4() if category else None
        self._emit(
            "conference.icpc_held",
            moment,
            {
                "conference_id": str(uuid.uuid4()),
                "s47_id": str(s47),
                "referral_id": str(referral),
                "conference_at": moment.isoformat(),
                "invited_agencies": ["police", "health"],
                "plan": category is not None,
                "plan_id": str(plan_id) if plan_id else None,
                "category": category,
            },
        )
        return plan_id

    def visit(self, referral: UUID, plan: UUID, moment: datetime, *, alone: bool) -> None:
        self._emit(
            "visit.recorded",
            moment,
            {
                "visit_id": str(uuid.uuid4()),
                "visit_at": moment.isoformat(),
                "kind": "cp_statutory",
                "referral_id": str(referral),
                "plan_id": str(plan),
                "child_seen": True,
                "seen_alone": alone,
            },
        )

    def review(self, plan: UUID, moment: datetime, *, latest: str | None) -> None:
        self._emit(
            "conference.rcpc_held",
            moment,
            {
                "conference_id": str(uuid.uuid4()),
                "plan_id": str(plan),
                "conference_at": moment.isoformat(),
                "invited_agencies": ["police"],
                "plan_continues": latest is not None,
                "latest_category": latest,
            },
        )

    def plan_ended(self, plan: UUID, moment: datetime) -> None:
        self._emit(
            "cp_plan.ended",
            moment,
            {"plan_id": str(plan), "ended_at": moment.isoformat(), "reason": "review_decision"},
        )

    def closed(
        self, referral: UUID, moment: datetime, *, reason: str = "RC7", nfa: bool = False
    ) -> None:
        self._emit(
            "case.closed",
            moment,
            {
                "referral_id": str(referral),
                "closed_at": moment.isoformat(),
                "reason": reason,
                "referral_nfa": nfa,
            },
        )

    def police_protection(self, moment: datetime) -> None:
        self._emit(
            "police.protection_started",
            moment,
            {
                "protection_id": str(uuid.uuid4()),
                "started_at": moment.isoformat(),
                "police_ref": "14/000002/24",
                "summary": "Taken into police protection.",
            },
            agency="police",
        )


def test_every_event_a_story_writes_is_valid_by_the_contract() -> None:
    story = Story()
    referral = story.referral(at(date(2024, 10, 1)))
    s47 = story.s47(referral, at(date(2024, 10, 2)))
    plan = story.icpc(referral, s47, at(date(2024, 10, 16)))
    assert plan is not None
    story.review(plan, at(date(2025, 1, 15)), latest=None)
    story.plan_ended(plan, at(date(2025, 1, 15), 12))
    story.closed(referral, at(date(2025, 2, 3)))
    story.police_protection(at(date(2024, 12, 1), 23))
    story.police_notification(at(date(2024, 9, 30)))
    assert [e.event_type for e in story.events] == [r["event_type"] for r in story.raw]
    assert {e.subject.child_id for e in story.events} == {story.child_id}
