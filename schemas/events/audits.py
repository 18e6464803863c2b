"""Case audits: a file audit scheduled, completed (tool, grade, actions with owners and dates),
moderated.

Keyed by the audited child, published by the council's case system (``social_care``) and routed
with the workforce events to ``frontdoor.workforce``. Grades: outstanding / good / adequate /
inadequate to 2013, ``requires_improvement`` after (both kept, so an old history still
validates). Auditors, owners and moderators are worker ids (``schemas.events.workforce``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.envelope import SAFE_ID_PATTERN, EventBase, Narrative, Payload, ShortText

WorkerId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN, min_length=1, max_length=64)]


class AuditGrade(StrEnum):
    OUTSTANDING = "outstanding"
    GOOD = "good"
    ADEQUATE = "adequate"
    REQUIRES_IMPROVEMENT = "requires_improvement"
    INADEQUATE = "inadequate"


class AuditAction(Payload):
    action_id: ShortText
    owner_id: WorkerId
    due_on: date
    action: Narrative = Field(description="What must be done. Personal data.")


class AuditScheduledPayload(Payload):
    audit_id: UUID
    auditor_id: WorkerId
    due_on: date
    tool: ShortText
    theme: ShortText | None = None


class AuditScheduled(EventBase):
    event_type: Literal["audit.scheduled"]
    schema_version: Literal[1]
    payload: AuditScheduledPayload


class AuditCompletedPayload(Payload):
    audit_id: UUID
    auditor_id: WorkerId
    completed_at: AwareDatetime
    tool: ShortText
    grade: AuditGrade
    actions: tuple[AuditAction, ...] = Field(default=(), max_length=100)


class AuditCompleted(EventBase):
    event_type: Literal["audit.completed"]
    schema_version: Literal[1]
    payload: AuditCompletedPayload


class AuditModeratedPayload(Payload):
    audit_id: UUID
    moderator_id: WorkerId
    moderated_at: AwareDatetime
    grade: AuditGrade = Field(description="The moderated grade (equal to the audit's if agreed).")


class AuditModerated(EventBase):
    event_type: Literal["audit.moderated"]
    schema_version: Literal[1]
    payload: AuditModeratedPayload
