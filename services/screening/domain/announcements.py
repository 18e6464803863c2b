"""The events screening announces, and the deterministic ids they carry.

For every triaged contact screening publishes ``screening.triaged`` (on ``frontdoor.casework``)
and, for a red result out of office hours, ``crisis.raised`` (on ``frontdoor.crisis``). Each id is
derived with uuid5 from the source event's id, so however often a contact is handled — a retry,
a redelivery, a catch-up from PostgreSQL — what it causes carries the same ids and downstream
consumers drop the repeat. Nothing here carries narrative or personal data beyond the child's id.
Pure: the processing time the events are stamped with is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from schemas.codes import Urgency
from schemas.envelope import LONDON, Agency, Source
from schemas.events.contacts import PoliceDaNotification
from schemas.events.triage import (
    CrisisRaised,
    CrisisRaisedPayload,
    CrisisReason,
    ScreeningTriaged,
    ScreeningTriagedPayload,
)
from services.screening.domain.history import Contact, incident_moment
from services.screening.domain.triage import TriageResult

SCREENING_NAMESPACE = UUID("a3f5c2d0-6b1e-5f4a-9c8d-73e2b1f0d4a6")
"""The uuid5 namespace of every id screening derives from a source event's id."""

SYSTEM = "frontdoor-screening"


@dataclass(frozen=True)
class Triaged:
    """One contact with its triage result and the ``screening.triaged`` event announced for it."""

    contact: Contact
    result: TriageResult
    published: ScreeningTriaged

    @property
    def incident_at(self) -> datetime:
        return incident_moment(self.contact)


def derived_id(kind: str, source_event_id: UUID) -> UUID:
    """The deterministic id of what screening emits for one source event (same on a retry)."""
    return uuid5(SCREENING_NAMESPACE, f"{kind}:{source_event_id}")


def _caused_by(contact: Contact, event_type: str, at: datetime) -> dict[str, Any]:
    """The envelope of an event screening announces about ``contact``: id derived, causation."""
    return {
        "event_id": derived_id(event_type, contact.event_id),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "source": Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(contact.event_id)),
        "subject": contact.subject,
        "correlation_id": contact.correlation_id or contact.event_id,
        "causation_id": contact.event_id,
    }


def triaged_event(contact: Contact, result: TriageResult, *, at: datetime) -> ScreeningTriaged:
    """The ``screening.triaged`` event for one contact (its id derived from the contact's)."""
    return ScreeningTriaged(
        **_caused_by(contact, "screening.triaged", at),
        payload=ScreeningTriagedPayload(
            contact_id=contact.payload.contact_id,
            triaged_at=at,
            priority=result.priority,
            reasons=result.reasons,
            screening_due_at=result.screening_due_at,
            route=result.route,
        ),
    )


def crisis_event(contact: Contact, result: TriageResult, *, at: datetime) -> CrisisRaised:
    """The ``crisis.raised`` event for a red result out of office hours."""
    is_da = isinstance(contact, PoliceDaNotification)
    return CrisisRaised(
        **_caused_by(contact, "crisis.raised", at),
        payload=CrisisRaisedPayload(
            crisis_id=derived_id("crisis", contact.event_id),
            raised_at=at,
            reason=CrisisReason.HIGH_RISK_DOMESTIC_ABUSE if is_da else CrisisReason.RED_TRIAGE,
            urgency=Urgency.IMMEDIATE,
            explanation=crisis_explanation(contact, result),
            trigger_event_id=contact.event_id,
            trigger_event_type=contact.event_type,
        ),
    )


def crisis_explanation(contact: Contact, result: TriageResult, *, limit: int = 2000) -> str:
    """Why this cannot wait, in words: the screening deadline first, then every reason's own
    text (rule texts and times only: no narrative, no personal data). The contract keeps up to
    ``limit`` characters, far more than every rule together, so nothing is cut in practice."""
    what = "police DA notification" if isinstance(contact, PoliceDaNotification) else "contact"
    received = contact.payload.contact_at.astimezone(LONDON)
    due = result.screening_due_at.astimezone(LONDON)
    reasons = "; ".join(r.text for r in result.reasons if not r.rule.startswith("priority."))
    text = (
        f"Screen by {due:%a %d %b %H:%M}: red {what}, received out of office hours "
        f"({received:%a %d %b %H:%M}). {reasons}"
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
