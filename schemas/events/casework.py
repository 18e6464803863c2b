"""Casework events from the local authority's case system: screening, referral, assessment,
visits and case closure.

Ids link the chain: a screening decision names its ``contact_id`` (and the ``referral_id`` it
created), and every later event names its ``referral_id`` (the CIN episode). Statutory moments
(referral date, assessment start and authorisation, closure) are ``AwareDatetime``; the census
date is their Europe/London calendar date.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from schemas.child import ChildDetails
from schemas.codes import AssessmentFactor, PrimaryNeedCode, ReasonForClosure, ReferralSource
from schemas.envelope import EventBase, Narrative, Payload, ShortText


class ScreeningDecision(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    INFORMATION_AND_ADVICE = "information_and_advice"
    EARLY_HELP = "early_help"
    REFERRAL = "referral"
    PASSED_TO_OPEN_CASE = "passed_to_open_case"


class ScreeningDecisionRecordedPayload(Payload):
    contact_id: UUID
    decided_at: AwareDatetime
    decision: ScreeningDecision
    referral_id: UUID | None = Field(
        default=None, description="Required exactly when the decision is a referral."
    )
    reason: Narrative = Field(description="Why; recorded for every decision. Personal data.")
    team: ShortText
    worker: ShortText | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.decision is ScreeningDecision.REFERRAL) != (self.referral_id is not None):
            raise ValueError("referral_id is required for, and only for, a referral decision")
        return self


class ScreeningDecisionRecorded(EventBase):
    """The MASH decision on a contact (due within one working day)."""

    event_type: Literal["screening.decision_recorded"]
    schema_version: Literal[1]
    payload: ScreeningDecisionRecordedPayload


class ReferralAcceptedPayload(Payload):
    referral_id: UUID
    contact_id: UUID | None = Field(default=None, description="The contact it came from, if any.")
    referral_at: AwareDatetime = Field(description="CINreferralDate (its Europe/London date).")
    referral_source: ReferralSource
    primary_need: PrimaryNeedCode
    team: ShortText
    worker: ShortText | None = None
    child: ChildDetails


class ReferralAccepted(EventBase):
    """A referral to children's social care: the start of a CIN episode."""

    event_type: Literal["referral.accepted"]
    schema_version: Literal[1]
    payload: ReferralAcceptedPayload


class AssessmentKind(StrEnum):
    SINGLE = "single"
    INITIAL = "initial"
    CORE = "core"


class AssessmentStartedPayload(Payload):
    assessment_id: UUID
    referral_id: UUID
    started_at: AwareDatetime
    kind: AssessmentKind = Field(
        default=AssessmentKind.SINGLE,
        description="single (WT 2013 on); initial/core under WT 2010 policies.",
    )
    team: ShortText
    worker: ShortText | None = None


class AssessmentStarted(EventBase):
    """An assessment of the child's needs has started."""

    event_type: Literal["assessment.started"]
    schema_version: Literal[1]
    payload: AssessmentStartedPayload


class AssessmentOutcome(StrEnum):
    CIN_PLAN = "cin_plan"
    SECTION_47 = "section_47"
    FURTHER_ACTION = "further_action"
    EARLY_HELP = "early_help"
    NO_FURTHER_ACTION = "no_further_action"


class AssessmentAuthorisedPayload(Payload):
    assessment_id: UUID
    referral_id: UUID
    authorised_at: AwareDatetime
    child_seen: bool
    factors: tuple[AssessmentFactor, ...] = Field(
        min_length=1, description="CIN factors identified; 21 (no factors) only alone."
    )
    outcome: AssessmentOutcome
    late_reason: Narrative | None = Field(
        default=None, description="Why it took longer than the timescale, when it did."
    )

    @property
    def requires_social_care_support(self) -> bool:
        """Annex A: was the child assessed as requiring LA children's social care support?"""
        return self.outcome in _SUPPORT_OUTCOMES

    @model_validator(mode="after")
    def _check(self) -> Self:
        if AssessmentFactor.NO_FACTORS in self.factors and len(self.factors) > 1:
            raise ValueError("assessment factor 21 (no factors identified) must be used alone")
        if len(set(self.factors)) != len(self.factors):
            raise ValueError("assessment factors must not repeat")
        return self


_SUPPORT_OUTCOMES = frozenset(
    {AssessmentOutcome.CIN_PLAN, AssessmentOutcome.SECTION_47, AssessmentOutcome.FURTHER_ACTION}
)


class AssessmentAuthorised(EventBase):
    """A manager authorised the completed assessment."""

    event_type: Literal["assessment.authorised"]
    schema_version: Literal[1]
    payload: AssessmentAuthorisedPayload


class VisitKind(StrEnum):
    CP_STATUTORY = "cp_statutory"
    CIN = "cin"
    ASSESSMENT = "assessment"
    OTHER = "other"


class VisitRecordedPayload(Payload):
    visit_id: UUID
    visit_at: AwareDatetime
    kind: VisitKind
    referral_id: UUID | None = None
    plan_id: UUID | None = Field(default=None, description="Required for a CP statutory visit.")
    child_seen: bool
    seen_alone: bool

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.seen_alone and not self.child_seen:
            raise ValueError("a child not seen cannot have been seen alone")
        if self.kind is VisitKind.CP_STATUTORY and self.plan_id is None:
            raise ValueError("a CP statutory visit names its plan_id")
        return self


class VisitRecorded(EventBase):
    """A social worker's visit to the child."""

    event_type: Literal["visit.recorded"]
    schema_version: Literal[1]
    payload: VisitRecordedPayload


class CaseClosedPayload(Payload):
    referral_id: UUID
    closed_at: AwareDatetime = Field(description="CINclosureDate (its Europe/London date).")
    reason: ReasonForClosure
    referral_nfa: bool = Field(
        default=False, description="CIN ReferralNFA: closed with no further action after referral."
    )


class CaseClosed(EventBase):
    """The CIN episode closed, with the census reason for closure."""

    event_type: Literal["case.closed"]
    schema_version: Literal[1]
    payload: CaseClosedPayload
