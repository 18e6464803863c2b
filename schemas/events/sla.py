"""What the SLA service publishes about statutory clocks: started, warning, breached, met,
cancelled.

Every SLA event carries the timer's identity and terms (``timer_id``, ``kind``, ``policy``,
``started_at``, ``due_at``, and ``anchor_id`` — the record the clock belongs to, such as a
referral, s47 or plan id) so a consumer needs no lookup; each transition adds its own moment.
``policy`` names the versioned policy that computed ``due_at`` (e.g. ``wt2013``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from schemas.envelope import EventBase, Payload, ShortText

PolicyName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,47}$")]


class TimerKind(StrEnum):
    SCREENING_DECISION = "screening_decision"
    TRIAGE = "triage"
    ASSESSMENT = "assessment"
    INITIAL_ASSESSMENT = "initial_assessment"
    CORE_ASSESSMENT = "core_assessment"
    ICPC = "icpc"
    CONFERENCE_REPORTS = "conference_reports"
    FIRST_CORE_GROUP = "first_core_group"
    CORE_GROUP = "core_group"
    FIRST_REVIEW = "first_review"
    REVIEW = "review"
    CP_VISIT = "cp_visit"
    OPERATION_ENCOMPASS = "operation_encompass"
    OOH_HANDOVER = "ooh_handover"
    POLICE_PROTECTION = "police_protection"


class SlaTimerPayload(Payload):
    timer_id: UUID
    kind: TimerKind
    policy: PolicyName
    started_at: AwareDatetime
    due_at: AwareDatetime
    anchor_id: UUID | None = Field(default=None, description="The record the clock belongs to.")
    team: ShortText | None = None

    @model_validator(mode="after")
    def _check_terms(self) -> Self:
        if self.due_at < self.started_at:
            raise ValueError("due_at is before started_at")
        return self


class SlaStarted(EventBase):
    """A statutory clock started."""

    event_type: Literal["sla.started"]
    schema_version: Literal[1]
    payload: SlaTimerPayload


class SlaWarningPayload(SlaTimerPayload):
    warned_at: AwareDatetime


class SlaWarning(EventBase):
    """A clock is close to its deadline."""

    event_type: Literal["sla.warning"]
    schema_version: Literal[1]
    payload: SlaWarningPayload


class SlaBreachedPayload(SlaTimerPayload):
    breached_at: AwareDatetime

    @model_validator(mode="after")
    def _check_breach(self) -> Self:
        if self.breached_at < self.due_at:
            raise ValueError("a breach is never announced before its deadline")
        return self


class SlaBreached(EventBase):
    """A clock passed its deadline without being met."""

    event_type: Literal["sla.breached"]
    schema_version: Literal[1]
    payload: SlaBreachedPayload


class SlaMetPayload(SlaTimerPayload):
    met_at: AwareDatetime
    late: bool = Field(description="Met after due_at (a breach was or will be reported).")

    @model_validator(mode="after")
    def _check_late(self) -> Self:
        if self.late != (self.met_at > self.due_at):
            raise ValueError("late must be true exactly when met_at is after due_at")
        return self


class SlaMet(EventBase):
    """The thing the clock waited for happened."""

    event_type: Literal["sla.met"]
    schema_version: Literal[1]
    payload: SlaMetPayload


class SlaCancelledPayload(SlaTimerPayload):
    cancelled_at: AwareDatetime
    reason: ShortText


class SlaCancelled(EventBase):
    """The clock no longer applies (e.g. the case closed or the plan ended)."""

    event_type: Literal["sla.cancelled"]
    schema_version: Literal[1]
    payload: SlaCancelledPayload
