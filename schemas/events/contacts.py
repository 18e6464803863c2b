"""Contacts: a partner or member of the public tells children's services about a child.

``contact.received`` is the general contact (v2; v1 carried the child's name in one field and is
upcast). ``police.da_notification`` is the police domestic-abuse notification, the largest single
stream, with its DASH risk assessment. Both carry ``contact_id``, which screening decisions refer
to, and ``contact_at`` (Annex A "Date of Contact"), and the child's personal details.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from schemas.child import ChildDetails, HouseholdChild, PersonName, Upn
from schemas.codes import (
    ConcernCategory,
    DashRiskLevel,
    Disability,
    Ethnicity,
    HighRiskMarker,
    ReferralSource,
    Sex,
)
from schemas.envelope import ContractModel, EventBase, Narrative, Payload, Reference
from schemas.upcasting import upcaster


class ChildDetailsV1(ContractModel):
    """Version 1 child block: the name in one field."""

    name: PersonName
    date_of_birth: date | None = None
    expected_birth_date: date | None = None
    sex: Sex
    ethnicity: Ethnicity
    upn: Upn | None = None
    disabilities: tuple[Disability, ...] = ()


class ContactReceivedV1Payload(Payload):
    contact_id: UUID
    contact_at: AwareDatetime
    referral_source: ReferralSource
    concern: ConcernCategory
    summary: Narrative
    child: ChildDetailsV1


class ContactReceivedV1(EventBase):
    """A contact about a child (superseded by v2; still accepted and upcast)."""

    event_type: Literal["contact.received"]
    schema_version: Literal[1]
    payload: ContactReceivedV1Payload


class ContactReceivedPayload(Payload):
    contact_id: UUID = Field(description="The contact's id; screening decisions refer to it.")
    contact_at: AwareDatetime = Field(description="When the front door received the contact.")
    referral_source: ReferralSource = Field(description="CIN census ReferralSource code.")
    concern: ConcernCategory = Field(description="The reporting agency's concern category.")
    summary: Narrative = Field(description="What was reported. Personal data.")
    child: ChildDetails


class ContactReceived(EventBase):
    """A contact about a child from any agency or the public (v2: given and family name apart)."""

    event_type: Literal["contact.received"]
    schema_version: Literal[2]
    payload: ContactReceivedPayload


@upcaster("contact.received", from_version=1)
def contact_received_v1_to_v2(event: dict[str, Any]) -> dict[str, Any]:
    """Split v1 ``child.name`` into ``given_name`` (all but the last word) and ``family_name``."""
    payload = dict(event["payload"])
    child = dict(payload["child"])
    words = str(child.pop("name")).split()
    child["family_name"] = words[-1]
    child["given_name"] = " ".join(words[:-1]) or None
    payload["child"] = child
    return {**event, "payload": payload}


class PoliceDaNotificationPayload(Payload):
    contact_id: UUID = Field(description="The contact's id; screening decisions refer to it.")
    contact_at: AwareDatetime = Field(description="When the front door received the notification.")
    police_ref: Reference = Field(description="The police occurrence reference.")
    incident_at: AwareDatetime
    dash_yes_count: int = Field(ge=0, le=27, description="Yes answers on the DASH checklist.")
    dash_risk_level: DashRiskLevel = Field(
        description="The recorded level: from the count, or higher when judgement raised it."
    )
    officer_judgement_level: DashRiskLevel | None = Field(
        default=None, description="Set when professional judgement raised the level."
    )
    high_risk_markers: tuple[HighRiskMarker, ...] = ()
    children_present: bool = Field(description="A child saw, heard or was present at the incident.")
    child_injured: bool
    household_children: tuple[HouseholdChild, ...] = Field(
        default=(), description="The other children of the household."
    )
    previous_incidents_12m: int = Field(
        ge=0, description="Earlier incidents between the same people in the last 12 months."
    )
    summary: Narrative = Field(description="What happened. Personal data.")
    child: ChildDetails

    @model_validator(mode="after")
    def _check(self) -> Self:
        counted = DashRiskLevel.from_yes_count(self.dash_yes_count)
        judged = self.officer_judgement_level
        if judged is not None and judged.rank < counted.rank:
            raise ValueError(
                f"officer judgement {judged} is below the counted level {counted}; "
                "judgement may raise the level, never lower it"
            )
        expected = counted if judged is None else judged
        if self.dash_risk_level is not expected:
            raise ValueError(
                f"dash_risk_level {self.dash_risk_level} is inconsistent: {self.dash_yes_count} "
                f"yes answers give {counted}, officer judgement {judged}"
            )
        if len(set(self.high_risk_markers)) != len(self.high_risk_markers):
            raise ValueError("high_risk_markers must not repeat")
        if self.incident_at > self.contact_at:
            raise ValueError("incident_at is after contact_at")
        return self


class PoliceDaNotification(EventBase):
    """A police domestic-abuse notification about a child in the household."""

    event_type: Literal["police.da_notification"]
    schema_version: Literal[1]
    payload: PoliceDaNotificationPayload
