"""Emergencies reported by the police: police protection (72 hours) and missing children.

``protection_id`` links ``police.protection_started`` to ``police.protection_ended`` (the 72-hour
clock of Children Act 1989 s46); ``missing_id`` identifies one missing episode. These matter most
out of hours and feed the crisis stream.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from schemas.envelope import EventBase, Narrative, Payload, Reference


class PoliceProtectionStartedPayload(Payload):
    protection_id: UUID
    started_at: AwareDatetime = Field(description="Start of the 72-hour police protection.")
    police_ref: Reference
    summary: Narrative = Field(description="Why the child was taken into police protection.")


class PoliceProtectionStarted(EventBase):
    """A child was taken into police protection (Children Act 1989 s46; at most 72 hours)."""

    event_type: Literal["police.protection_started"]
    schema_version: Literal[1]
    payload: PoliceProtectionStartedPayload


class ProtectionOutcome(StrEnum):
    RETURNED_HOME = "returned_home"
    LA_ACCOMMODATION = "la_accommodation"
    EMERGENCY_PROTECTION_ORDER = "emergency_protection_order"
    OTHER = "other"


class PoliceProtectionEndedPayload(Payload):
    protection_id: UUID
    ended_at: AwareDatetime
    outcome: ProtectionOutcome


class PoliceProtectionEnded(EventBase):
    """Police protection ended; stops the 72-hour clock."""

    event_type: Literal["police.protection_ended"]
    schema_version: Literal[1]
    payload: PoliceProtectionEndedPayload


class MissingFrom(StrEnum):
    HOME = "home"
    CARE_PLACEMENT = "care_placement"
    SCHOOL = "school"
    OTHER = "other"


class MissingRisk(StrEnum):
    NO_APPARENT_RISK = "no_apparent_risk"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ChildMissingReportedPayload(Payload):
    missing_id: UUID
    reported_at: AwareDatetime
    last_seen_at: AwareDatetime
    missing_from: MissingFrom
    risk: MissingRisk
    police_ref: Reference | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.last_seen_at > self.reported_at:
            raise ValueError("last_seen_at is after reported_at")
        return self


class ChildMissingReported(EventBase):
    """A child was reported missing."""

    event_type: Literal["child.missing_reported"]
    schema_version: Literal[1]
    payload: ChildMissingReportedPayload
