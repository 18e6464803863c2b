"""Operation Encompass: the school told of a domestic-abuse incident its pupil was part of.

``education.encompass_notified`` is the stop event of the ``operation_encompass`` clock (DOMAIN.md
§2: the school told before the start of the next school day; a statutory duty "as soon as
reasonably practicable" from 7 Nov 2025). It names the police DA notification it answers by its
``contact_id``, so the clock that notification started is the one it meets. The police (or the
MASH police desk, on the police's behalf) tell the school's key adult: the publisher is the
police, the agency that holds the incident and whose lane intake checks (schemas/roles.toml).
No pupil or school staff names are carried: the school is named by its DfE URN.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.envelope import EventBase, Payload

SchoolUrn = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
"""A school's or college's DfE unique reference number (six digits, from GIAS)."""


class NotificationMethod(StrEnum):
    SECURE_EMAIL = "secure_email"
    TELEPHONE = "telephone"
    PORTAL = "portal"
    OTHER = "other"


class EncompassNotifiedPayload(Payload):
    contact_id: UUID = Field(
        description="The police.da_notification this answers (its contact_id): the clock it meets."
    )
    notified_at: AwareDatetime = Field(description="When the school's key adult was told.")
    school_urn: SchoolUrn | None = Field(
        default=None, description="The school's or FE college's DfE URN, when known."
    )
    method: NotificationMethod = NotificationMethod.SECURE_EMAIL


class EncompassNotified(EventBase):
    """The child's school was told of a domestic-abuse incident (Operation Encompass)."""

    event_type: Literal["education.encompass_notified"]
    schema_version: Literal[1]
    payload: EncompassNotifiedPayload
