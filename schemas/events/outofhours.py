"""The out-of-hours (emergency duty) team: alerts from day teams, actions taken overnight, and the
handover back to the day team.

Day teams raise ``ooh.alert_raised`` for cases likely to need action out of hours. The duty
worker records each ``ooh.action_recorded`` with the reasons for decisions (an acknowledgement of a
crisis item is an action of kind ``acknowledged`` whose ``causation_id`` is the crisis event).
frontdoor publishes ``ooh.handover_published`` (one per child, ranked most urgent first, with the
night's crisis items and actions) due by 09:00 on the next working day, and
``ooh.handover_acknowledged`` when the day team acknowledges a child's part of it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from schemas.codes import Urgency
from schemas.envelope import ContractModel, EventBase, Narrative, Payload, ShortText
from schemas.events.triage import CrisisReason, Explanation


class OohActionKind(StrEnum):
    STRATEGY_DISCUSSION = "strategy_discussion"
    SECTION_47 = "section_47"
    POLICE_PROTECTION = "police_protection"
    EMERGENCY_PLACEMENT = "emergency_placement"
    MISSING_CHILD = "missing_child"
    FAMILY_BREAKDOWN = "family_breakdown"
    WELFARE_CHECK = "welfare_check"
    ADVICE = "advice"
    ACKNOWLEDGED = "acknowledged"
    OTHER = "other"


class OohActionRecordedPayload(Payload):
    action_id: UUID
    action_at: AwareDatetime
    kind: OohActionKind
    urgency: Urgency = Field(description="How urgently the day team must pick this up.")
    summary: Narrative = Field(description="What was done. Personal data.")
    decision_reason: Narrative = Field(description="The reasons for the decisions taken.")
    worker: ShortText


class OohActionRecorded(EventBase):
    """The out-of-hours team recorded an action about a child."""

    event_type: Literal["ooh.action_recorded"]
    schema_version: Literal[1]
    payload: OohActionRecordedPayload


class OohAlertRaisedPayload(Payload):
    alert_id: UUID
    raised_at: AwareDatetime
    risk: Narrative = Field(description="The risk the out-of-hours team should know about.")
    contingency_plan: Narrative
    expires_at: AwareDatetime | None = None
    team: ShortText = Field(description="The day team raising the alert.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.expires_at is not None and self.expires_at <= self.raised_at:
            raise ValueError("expires_at must be after raised_at")
        return self


class OohAlertRaised(EventBase):
    """A day team alerts the out-of-hours team to a case that may need action tonight."""

    event_type: Literal["ooh.alert_raised"]
    schema_version: Literal[1]
    payload: OohAlertRaisedPayload


class HandoverAction(ContractModel):
    action_id: UUID
    action_at: AwareDatetime
    kind: OohActionKind
    urgency: Urgency
    crisis_id: UUID | None = Field(default=None, description="The crisis item it answers.")
    worker: ShortText | None = None
    summary: Narrative | None = Field(default=None, description="What was done. Personal data.")
    decision_reason: Narrative | None = Field(
        default=None, description="The reasons for the decisions taken. Personal data."
    )


class HandoverCrisis(ContractModel):
    """A crisis item of the night, acknowledged or not (no narrative)."""

    crisis_id: UUID
    raised_at: AwareDatetime
    reason: CrisisReason
    urgency: Urgency
    explanation: Explanation
    trigger_event_type: ShortText
    acknowledged_at: AwareDatetime | None = None


class OohHandoverPublishedPayload(Payload):
    handover_id: UUID = Field(description="Shared by every child in the same night's handover.")
    shift_started_at: AwareDatetime
    shift_ended_at: AwareDatetime
    due_by: AwareDatetime = Field(description="09:00 Europe/London on the next working day.")
    rank: int = Field(ge=1, description="Position in the handover, 1 = most urgent.")
    urgency: Urgency
    team: ShortText = Field(description="The day team receiving the handover.")
    actions: tuple[HandoverAction, ...] = ()
    crises: tuple[HandoverCrisis, ...] = Field(
        default=(), description="The night's crisis items for the child, most urgent first."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.shift_ended_at <= self.shift_started_at:
            raise ValueError("shift_ended_at must be after shift_started_at")
        if not self.actions and not self.crises:
            raise ValueError("a handover part needs at least one action or crisis item")
        return self


class OohHandoverPublished(EventBase):
    """One child's part of the out-of-hours handover to the day team."""

    event_type: Literal["ooh.handover_published"]
    schema_version: Literal[1]
    payload: OohHandoverPublishedPayload


class OohHandoverAcknowledgedPayload(Payload):
    handover_id: UUID
    acknowledged_at: AwareDatetime
    team: ShortText = Field(description="The day team acknowledging the handover.")
    worker: ShortText


class OohHandoverAcknowledged(EventBase):
    """The day team acknowledged one child's part of the out-of-hours handover (meets its clock)."""

    event_type: Literal["ooh.handover_acknowledged"]
    schema_version: Literal[1]
    payload: OohHandoverAcknowledgedPayload
