"""What the conferences service knows about one child: referrals, s47s, conferences and CP plans.

A `ChildFile` is the state the rules are checked against and the views are written from: the
child's referrals (date, closure, whether closed as no further action), section 47 enquiries
(open until completed, conferenced or closed), conferences (an ICPC scheduled from the strategy
discussion that started the s47, reviews scheduled from the conference before; pending, held or
cancelled; who is invited, who has reported and whether in time) and CP plans (open or ended, with
core group, visit and review facts). All models are frozen; `processing.py` returns new ones.
Moments are aware datetimes; targets are London calendar dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.codes import CategoryOfAbuse
from schemas.envelope import Agency
from schemas.events.conferences import ConferenceKind
from services.common.calendar import to_london


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Referral(_State):
    """A CIN episode as far as conferences care: when it started and how it ended."""

    referral_id: UUID
    referral_at: AwareDatetime | None = Field(
        default=None, description="None when only its closure has been seen."
    )
    closed_at: AwareDatetime | None = None
    nfa: bool = False


class EnquiryStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CONFERENCED = "conferenced"
    CLOSED = "closed"


class Enquiry(_State):
    """A section 47 enquiry."""

    s47_id: UUID
    referral_id: UUID
    strategy_id: UUID | None = None
    started_at: AwareDatetime | None = None
    status: EnquiryStatus = EnquiryStatus.OPEN
    ended_at: AwareDatetime | None = None

    @property
    def open(self) -> bool:
        return self.status is EnquiryStatus.OPEN


class ConferenceStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    CANCELLED = "cancelled"


class Report(_State):
    """One agency's report for one conference (the latest it submitted)."""

    agency: Agency
    report_id: UUID
    submitted_at: AwareDatetime
    shared_with_family: bool
    on_time: bool = Field(description="Shared with the parents by the reports deadline.")


class Conference(_State):
    """An ICPC or a review: scheduled, then held or cancelled."""

    conference_id: UUID
    kind: ConferenceKind
    policy: str
    referral_id: UUID | None = None
    strategy_id: UUID | None = None
    s47_id: UUID | None = None
    plan_id: UUID | None = None
    sequence: int = Field(default=0, description="0 for an ICPC; 1, 2, … for the reviews.")
    clock_started_at: AwareDatetime
    target_date: date
    issued_at: AwareDatetime
    reports_due_by: AwareDatetime
    invited: tuple[Agency, ...]
    reports: tuple[Report, ...] = ()
    status: ConferenceStatus = ConferenceStatus.PENDING
    conference_at: AwareDatetime | None = None
    recorded_conference_id: UUID | None = Field(
        default=None, description="The id the case system gave the conference when it was held."
    )
    attending: tuple[Agency, ...] = ()
    quorate: bool | None = Field(default=None, description="At the conference, by attendance.")
    quorate_on_invitations: bool = False
    quorate_on_reports: bool = False
    outcome: str | None = None
    closed_at: AwareDatetime | None = Field(default=None, description="When it was cancelled.")
    closed_reason: str | None = None

    @property
    def pending(self) -> bool:
        return self.status is ConferenceStatus.PENDING

    def report_of(self, agency: Agency) -> Report | None:
        return next((r for r in self.reports if r.agency is agency), None)


class PlanStatus(StrEnum):
    OPEN = "open"
    ENDED = "ended"


class Plan(_State):
    """A child protection plan: starts on the ICPC date, ends with cp_plan.ended or closure."""

    plan_id: UUID
    referral_id: UUID | None
    icpc_conference_id: UUID
    started_at: AwareDatetime
    initial_category: CategoryOfAbuse
    latest_category: CategoryOfAbuse
    status: PlanStatus = PlanStatus.OPEN
    ended_at: AwareDatetime | None = None
    end_reason: str | None = None
    core_groups: int = 0
    last_core_group_at: AwareDatetime | None = None
    visits: int = 0
    last_visit_at: AwareDatetime | None = None
    last_seen_alone_at: AwareDatetime | None = None
    reviews: int = 0
    last_review_at: AwareDatetime | None = None
    review_decided_to_end: bool = False

    @property
    def open(self) -> bool:
        return self.status is PlanStatus.OPEN

    @property
    def start_date(self) -> date:
        return to_london(self.started_at).date()


class ChildFile(_State):
    """Everything the service holds about one child, keyed by each record's id."""

    child_id: str
    referrals: Mapping[UUID, Referral] = Field(default_factory=dict)
    enquiries: Mapping[UUID, Enquiry] = Field(default_factory=dict)
    conferences: Mapping[UUID, Conference] = Field(default_factory=dict)
    plans: Mapping[UUID, Plan] = Field(default_factory=dict)

    def with_referral(self, referral: Referral) -> ChildFile:
        return self.model_copy(
            update={"referrals": {**self.referrals, referral.referral_id: referral}}
        )

    def with_enquiry(self, enquiry: Enquiry) -> ChildFile:
        return self.model_copy(update={"enquiries": {**self.enquiries, enquiry.s47_id: enquiry}})

    def with_conference(self, conference: Conference) -> ChildFile:
        return self.model_copy(
            update={"conferences": {**self.conferences, conference.conference_id: conference}}
        )

    def with_plan(self, plan: Plan) -> ChildFile:
        return self.model_copy(update={"plans": {**self.plans, plan.plan_id: plan}})

    def open_plans(self) -> list[Plan]:
        return [p for p in self.plans.values() if p.open]

    def open_enquiries(self) -> list[Enquiry]:
        return [e for e in self.enquiries.values() if e.open]

    def pending(self, kind: ConferenceKind) -> list[Conference]:
        return [c for c in self.conferences.values() if c.pending and c.kind is kind]
