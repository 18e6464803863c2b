"""What frontdoor's screening service publishes: the triage of a contact and crisis alerts.

``screening.triaged`` records the priority, the rules that produced it (each with a readable
reason), when screening is due, and where the contact goes (the MASH queue, or straight to the
team that already has the child open). ``crisis.raised`` puts something that cannot wait in front
of the out-of-hours team, naming the event that triggered it. Neither carries narrative.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.codes import TriagePriority, Urgency
from schemas.envelope import ContractModel, EventBase, Payload, ShortText

RuleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,79}$")]
EventTypeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")]


Explanation = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""A rule-generated explanation, kept whole: every reason in words (no personal data). Long
enough for every rule a contact can meet; the handover shows it without cutting a word."""


class TriageReason(ContractModel):
    rule: RuleName = Field(description="Stable rule name, e.g. 'dash.high'.")
    text: ShortText = Field(description="Human-readable reason; no personal data.")


class RouteKind(StrEnum):
    OPEN_CASE = "open_case"
    MASH_QUEUE = "mash_queue"


class Route(ContractModel):
    kind: RouteKind
    team: ShortText


class ScreeningTriagedPayload(Payload):
    contact_id: UUID
    triaged_at: AwareDatetime
    priority: TriagePriority
    reasons: tuple[TriageReason, ...] = Field(min_length=1)
    screening_due_at: AwareDatetime
    route: Route


class ScreeningTriaged(EventBase):
    """frontdoor triaged a contact: priority, reasons, screening deadline and route."""

    event_type: Literal["screening.triaged"]
    schema_version: Literal[1]
    payload: ScreeningTriagedPayload


class CrisisReason(StrEnum):
    RED_TRIAGE = "red_triage"
    HIGH_RISK_DOMESTIC_ABUSE = "high_risk_domestic_abuse"
    POLICE_PROTECTION = "police_protection"
    MISSING_CHILD = "missing_child"
    OUT_OF_HOURS_STRATEGY = "out_of_hours_strategy"
    OOH_ALERT = "ooh_alert"
    OTHER = "other"


class CrisisRaisedPayload(Payload):
    crisis_id: UUID
    raised_at: AwareDatetime
    reason: CrisisReason
    urgency: Urgency
    explanation: Explanation = Field(
        description="Why it cannot wait, every reason in words; rule-generated, no personal data."
    )
    trigger_event_id: UUID
    trigger_event_type: EventTypeName
    trigger_at: AwareDatetime | None = Field(
        default=None,
        description="When the triggering thing happened (e.g. police protection started), if "
        "known; the out-of-hours night an item belongs to is read from it, else from raised_at.",
    )


class CrisisRaised(EventBase):
    """Something about a child cannot wait for the next working day."""

    event_type: Literal["crisis.raised"]
    schema_version: Literal[1]
    payload: CrisisRaisedPayload
