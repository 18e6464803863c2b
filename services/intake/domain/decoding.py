"""Turning a partner record into an accepted event or a reasoned rejection.

Pure: bytes in, a decision out. Decoding distinguishes the three failures a data officer needs
to tell apart — the bytes were not a JSON event at all (``deserialization``), the event broke the
contract (``validation``), or the type is not one partners may publish (``validation`` too, with
a message saying so). The canonical form of an accepted event is the JSON of its validated,
upcast model; its SHA-256 is the content hash that detects an event id reused for other content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
import pydantic

from schemas.envelope import EventBase
from schemas.registry import INBOUND_TYPES, UnknownEventType, parse_event
from services.common.deadletter import DeadLetterReason


class OversizedEventError(ValueError):
    """The record is larger than the intake accepts."""


class NotAnObjectError(ValueError):
    """The record is valid JSON but not a JSON object."""


class NotPartnerPublishableError(ValueError):
    """The event type exists but is produced by frontdoor itself, not by partners."""


@dataclass(frozen=True)
class Accepted:
    event: EventBase
    canonical: bytes
    content_hash: bytes


@dataclass(frozen=True)
class Rejected:
    reason: DeadLetterReason
    error: Exception


def decode(value: bytes | None, *, max_bytes: int) -> Accepted | Rejected:  # noqa: PLR0911 - one return per failure kind reads best
    """Decode and validate one partner record."""
    if value is None:
        return Rejected(DeadLetterReason.DESERIALIZATION, NotAnObjectError("record has no value"))
    if len(value) > max_bytes:
        return Rejected(
            DeadLetterReason.DESERIALIZATION,
            OversizedEventError(f"record is {len(value)} bytes; the limit is {max_bytes}"),
        )
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejected(DeadLetterReason.DESERIALIZATION, exc)
    if not isinstance(data, dict):
        return Rejected(
            DeadLetterReason.DESERIALIZATION,
            NotAnObjectError(f"expected a JSON object, got {type(data).__name__}"),
        )
    try:
        event = parse_event(data)
    except (UnknownEventType, pydantic.ValidationError) as exc:
        return Rejected(DeadLetterReason.VALIDATION, exc)
    if event.event_type not in INBOUND_TYPES:
        return Rejected(
            DeadLetterReason.VALIDATION,
            NotPartnerPublishableError(
                f"{event.event_type} is published by frontdoor itself; partners may not send it"
            ),
        )
    canonical = event.model_dump_json().encode()
    return Accepted(event, canonical, hashlib.sha256(canonical).digest())
