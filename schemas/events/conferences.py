"""Child protection conferences and plans: ICPC, core groups, reviews, plan end, agency reports.

``conference_id`` links invitations, agency reports and the conference itself; ``plan_id`` links a
CP plan from the ICPC that made it (plan start = ICPC date) through core groups, reviews and
visits to ``cp_plan.ended``. A conference is never held on a Saturday or Sunday (DfE rule 8875;
checked in Europe/London; bank holidays are checked by services that own a calendar).
``conference.invitation_issued`` is published by frontdoor to each invited agency's inbox and
carries only what an agency needs.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from schemas.codes import CategoryOfAbuse
from schemas.envelope import (
    Agency,
    EventBase,
    Payload,
    author_agency,
    is_london_weekend,
    london_date,
)


def _not_on_weekend(moment: datetime | None) -> None:
    if moment is not None and is_london_weekend(moment):
        raise ValueError(f"a conference cannot be on a weekend ({london_date(moment)}; rule 8875)")


class ConferenceReportSubmittedPayload(Payload):
    report_id: UUID
    conference_id: UUID
    agency: Agency = author_agency(
        "The agency whose report this is: the publishing agency (its lane, or its API key)."
    )
    submitted_at: AwareDatetime
    shared_with_family: bool = Field(description="The report was shared with the parents.")


class ConferenceReportSubmitted(EventBase):
    """An agency submitted its report for a conference."""

    event_type: Literal["conference.report_submitted"]
    schema_version: Literal[1]
    payload: ConferenceReportSubmittedPayload


class IcpcHeldPayload(Payload):
    conference_id: UUID
    s47_id: UUID
    referral_id: UUID
    conference_at: AwareDatetime = Field(description="DateOfInitialCPC (its Europe/London date).")
    invited_agencies: tuple[Agency, ...] = Field(min_length=1)
    attending_agencies: tuple[Agency, ...] = ()
    plan: bool = Field(description="The conference made the child subject to a CP plan.")
    plan_id: UUID | None = Field(default=None, description="Required exactly when plan is true.")
    category: CategoryOfAbuse | None = Field(
        default=None, description="Initial category of abuse; required exactly when plan is true."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_on_weekend(self.conference_at)
        if self.plan != (self.plan_id is not None) or self.plan != (self.category is not None):
            raise ValueError("plan_id and category are required exactly when plan is true")
        return self


class IcpcHeld(EventBase):
    """An initial child protection conference was held; a CP plan starts on its date if made."""

    event_type: Literal["conference.icpc_held"]
    schema_version: Literal[1]
    payload: IcpcHeldPayload


class CoreGroupHeldPayload(Payload):
    core_group_id: UUID
    plan_id: UUID
    held_at: AwareDatetime
    agencies: tuple[Agency, ...] = ()


class CoreGroupHeld(EventBase):
    """A core group meeting for a child protection plan."""

    event_type: Literal["core_group.held"]
    schema_version: Literal[1]
    payload: CoreGroupHeldPayload


class RcpcHeldPayload(Payload):
    conference_id: UUID
    plan_id: UUID
    conference_at: AwareDatetime = Field(description="CPPreviewDate (its Europe/London date).")
    invited_agencies: tuple[Agency, ...] = Field(min_length=1)
    attending_agencies: tuple[Agency, ...] = ()
    plan_continues: bool
    latest_category: CategoryOfAbuse | None = Field(
        default=None, description="Required exactly when the plan continues."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_on_weekend(self.conference_at)
        if self.plan_continues != (self.latest_category is not None):
            raise ValueError("latest_category is required exactly when the plan continues")
        return self


class RcpcHeld(EventBase):
    """A review child protection conference; if the plan ends, cp_plan.ended follows."""

    event_type: Literal["conference.rcpc_held"]
    schema_version: Literal[1]
    payload: RcpcHeldPayload


class PlanEndReason(StrEnum):
    REVIEW_DECISION = "review_decision"
    TRANSFERRED_TO_ANOTHER_LA = "transferred_to_another_la"
    CHILD_LOOKED_AFTER = "child_looked_after"
    REACHED_EIGHTEEN = "reached_eighteen"
    CHILD_DIED = "child_died"
    OTHER = "other"


class CpPlanEndedPayload(Payload):
    plan_id: UUID
    ended_at: AwareDatetime = Field(description="CPPendDate (its Europe/London date).")
    reason: PlanEndReason
    conference_id: UUID | None = Field(default=None, description="The review that ended it.")


class CpPlanEnded(EventBase):
    """A child protection plan ended."""

    event_type: Literal["cp_plan.ended"]
    schema_version: Literal[1]
    payload: CpPlanEndedPayload


class ConferenceKind(StrEnum):
    ICPC = "icpc"
    RCPC = "rcpc"


class ConferenceInvitationIssuedPayload(Payload):
    invitation_id: UUID
    conference_id: UUID
    kind: ConferenceKind
    agency: Agency = Field(description="The invited agency (the inbox it is published to).")
    conference_at: AwareDatetime | None = Field(default=None, description="When it is booked.")
    icpc_target_date: date | None = Field(
        default=None, description="Latest date the ICPC may be held (an ICPC invitation only)."
    )
    review_target_date: date | None = Field(
        default=None,
        description="Latest working day the review may be held (an RCPC invitation only).",
    )
    reports_due_by: AwareDatetime = Field(description="When the agency's report is due.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_on_weekend(self.conference_at)
        if self.kind is ConferenceKind.RCPC and self.icpc_target_date is not None:
            raise ValueError("icpc_target_date belongs to ICPC invitations only")
        if self.kind is ConferenceKind.ICPC and self.review_target_date is not None:
            raise ValueError("review_target_date belongs to RCPC invitations only")
        return self


class ConferenceInvitationIssued(EventBase):
    """frontdoor invites an agency to a conference and asks for its report."""

    event_type: Literal["conference.invitation_issued"]
    schema_version: Literal[1]
    payload: ConferenceInvitationIssuedPayload
