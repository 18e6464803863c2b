"""Screening's records: decoding what it consumes and encoding the events it publishes.

Pure translation between Kafka record bytes and the event contract, kept apart from the use cases
so they read as steps. Decoding tells the dead-letter reasons apart (``deserialization`` for bytes
that are not a JSON object, ``validation`` for a contract violation or an event that does not
belong on the topic). Every event screening publishes has an id derived with uuid5 from the
source event's id, so a retry after a crash republishes the same ids and downstream consumers
drop the repeat. Nothing here carries narrative or personal data beyond the child's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

import orjson
import pydantic

from schemas.codes import Urgency
from schemas.envelope import LONDON, Agency, EventBase, Source
from schemas.events.casework import ScreeningDecisionRecorded
from schemas.events.contacts import ContactReceived, PoliceDaNotification
from schemas.events.triage import (
    CrisisRaised,
    CrisisRaisedPayload,
    CrisisReason,
    ScreeningTriaged,
    ScreeningTriagedPayload,
)
from schemas.registry import UnknownEventType, parse_event
from services.common.deadletter import DeadLetterReason, Origin
from services.common.publishing import OutRecord
from services.screening.domain.triage import TriageResult

SCREENING_NAMESPACE = UUID("a3f5c2d0-6b1e-5f4a-9c8d-73e2b1f0d4a6")
"""The uuid5 namespace of every id screening derives from a source event's id."""

DECISION_TYPE = "screening.decision_recorded"
SYSTEM = "frontdoor-screening"

Contact = ContactReceived | PoliceDaNotification


class NotAContactError(ValueError):
    """A record on the contacts topic is a valid event of another type."""


@dataclass(frozen=True)
class Rejected:
    reason: DeadLetterReason
    error: Exception


def derived_id(kind: str, source_event_id: UUID) -> UUID:
    """The deterministic id of what screening emits for one source event (same on a retry)."""
    return uuid5(SCREENING_NAMESPACE, f"{kind}:{source_event_id}")


def decode_contact(value: bytes | None) -> Contact | Rejected:
    """A ``contact.received`` or ``police.da_notification``, or why the record is not one."""
    event = _decode(value)
    if isinstance(event, Rejected | ContactReceived | PoliceDaNotification):
        return event
    return Rejected(
        DeadLetterReason.VALIDATION,
        NotAContactError(f"{event.event_type} does not belong on the contacts topic"),
    )


def _decode(value: bytes | None) -> EventBase | Rejected:
    if value is None:
        return Rejected(DeadLetterReason.DESERIALIZATION, ValueError("record has no value"))
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejected(DeadLetterReason.DESERIALIZATION, exc)
    return _validate(data)


def _validate(data: object) -> EventBase | Rejected:
    if not isinstance(data, dict):
        return Rejected(
            DeadLetterReason.DESERIALIZATION,
            ValueError(f"expected a JSON object, got {type(data).__name__}"),
        )
    try:
        return parse_event(data)
    except (UnknownEventType, pydantic.ValidationError) as exc:
        return Rejected(DeadLetterReason.VALIDATION, exc)


def triaged_event(contact: Contact, result: TriageResult, *, at: datetime) -> ScreeningTriaged:
    """The ``screening.triaged`` event for one contact (its id derived from the contact's)."""
    return ScreeningTriaged(
        event_id=derived_id("screening.triaged", contact.event_id),
        event_type="screening.triaged",
        schema_version=1,
        occurred_at=at,
        source=Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(contact.event_id)),
        subject=contact.subject,
        correlation_id=contact.correlation_id or contact.event_id,
        causation_id=contact.event_id,
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
        event_id=derived_id("crisis.raised", contact.event_id),
        event_type="crisis.raised",
        schema_version=1,
        occurred_at=at,
        source=Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(contact.event_id)),
        subject=contact.subject,
        correlation_id=contact.correlation_id or contact.event_id,
        causation_id=contact.event_id,
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


def crisis_explanation(contact: Contact, result: TriageResult, *, limit: int = 200) -> str:
    """Why this cannot wait, from rule ids and times only (no narrative, no personal data)."""
    what = "police DA notification" if isinstance(contact, PoliceDaNotification) else "contact"
    received = contact.payload.contact_at.astimezone(LONDON)
    due = result.screening_due_at.astimezone(LONDON)
    rules = ", ".join(r.rule for r in result.reasons if not r.rule.startswith("priority."))
    text = (
        f"Red {what} received out of office hours ({received:%a %d %b %H:%M}); "
        f"screening due {due:%a %d %b %H:%M}; rules: {rules}"
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_record(topic: str, event: EventBase) -> OutRecord:
    """The record for an event: keyed by the child, labelled with its type in a header."""
    return OutRecord(
        topic,
        event.subject.child_id.encode(),
        event.model_dump_json().encode(),
        [("event_type", event.event_type.encode())],
    )


def header(origin: Origin, name: str) -> str | None:
    for key, value in origin.headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def decode_decision(origin: Origin) -> ScreeningDecisionRecorded | Rejected | None:
    """The decision in a casework record; ``None`` for any other (well-formed) event type."""
    labelled = header(origin, "event_type")
    if labelled is not None and labelled != DECISION_TYPE:
        return None
    if origin.value is None:
        return Rejected(DeadLetterReason.DESERIALIZATION, ValueError("record has no value"))
    try:
        data = orjson.loads(origin.value)
    except orjson.JSONDecodeError as exc:
        return Rejected(DeadLetterReason.DESERIALIZATION, exc)
    if isinstance(data, dict) and data.get("event_type") != DECISION_TYPE:
        return None
    event = _validate(data)
    if isinstance(event, Rejected | ScreeningDecisionRecorded):
        return event
    return None  # pragma: no cover - the registry maps the decision type to its model
