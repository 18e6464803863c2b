"""The envelope every frontdoor event shares, and the small value types its payloads reuse.

An event is one JSON object: ``event_id`` (the de-duplication key), ``event_type`` and
``schema_version`` (which model validates it), ``occurred_at`` (ISO 8601 with an offset; naive
times are rejected), ``source`` (who published it), ``subject`` (the child it is about — the Kafka
key), optional ``correlation_id`` / ``causation_id``, and a type-specific ``payload``. Every model
here is frozen and forbids unknown fields. Time convention for all payloads: an instant at which a
clock starts or stops (a contact, a referral, a conference) is an ``AwareDatetime``; a calendar
day that statute or a DfE return reports as a date and that has no meaningful time (a date of
birth, an expected birth date, an ICPC target date) is a ``date``. Local dates are read in
Europe/London.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

LONDON = ZoneInfo("Europe/London")

SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

ChildId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN, min_length=1, max_length=64)]
"""A child's id in the council's case system: 1–64 safe characters (letters, digits, ``._:-``)."""

FamilyId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A short label such as a team, a worker or a system name (not personal narrative)."""

Narrative = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
"""Free text written by a professional. Personal data: never logged."""

Reference = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Agency(StrEnum):
    """The partner agencies that publish to, or read from, the front door."""

    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"
    PROBATION = "probation"
    HOUSING = "housing"
    SOCIAL_CARE = "social_care"
    EARLY_HELP = "early_help"
    OOH = "ooh"
    PUBLIC = "public"
    OTHER = "other"


class ContractModel(BaseModel):
    """Base of every model in the contract: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(ContractModel):
    """Who published the event: the agency, its system, and that system's own record reference."""

    agency: Agency
    system: ShortText = Field(description="The publishing system, e.g. 'niche-rms' or 'mosaic'.")
    ref: Reference = Field(description="The record's reference in the publishing system.")


class Subject(ContractModel):
    """The child the event is about. ``child_id`` is the Kafka key of every topic."""

    child_id: ChildId
    family_id: FamilyId | None = Field(
        default=None, description="The household, when known; links siblings and repeat incidents."
    )


class Payload(ContractModel):
    """Base of every event payload."""


class EventBase(ContractModel):
    """The common envelope; concrete events narrow event_type, schema_version and payload."""

    event_id: UUID = Field(description="Unique per event; the de-duplication key.")
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(description="When it happened, ISO 8601 with an offset.")
    source: Source
    subject: Subject
    correlation_id: UUID | None = Field(
        default=None, description="Shared by every event of one piece of work (e.g. one contact)."
    )
    causation_id: UUID | None = Field(
        default=None, description="The event_id of the event that caused this one."
    )
    payload: Payload


def london_date(moment: datetime) -> str:
    """The Europe/London calendar date of an aware instant, ISO formatted (for error messages)."""
    return moment.astimezone(LONDON).date().isoformat()


def is_london_weekend(moment: datetime) -> bool:
    """True when an aware instant falls on a Saturday or Sunday in Europe/London."""
    return moment.astimezone(LONDON).weekday() >= 5
