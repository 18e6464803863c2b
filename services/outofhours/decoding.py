"""Reading a record into a contract event, or saying why it cannot be read, or that it is not ours.

A record whose ``event_type`` header (or JSON field) names a type the consumer does not want is
skipped without validating it (``None``) — on a shared topic such as ``frontdoor.casework`` most
records are for other services; on a topic that should carry only wanted types, the caller asks
for such a record to be rejected instead. Anything else that fails to decode or validate is
``Rejected`` with the dead-letter reason, and the caller dead-letters the original bytes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import orjson
import pydantic

from schemas.envelope import EventBase
from schemas.registry import UnknownEventType, parse_event
from services.common.deadletter import DeadLetterReason, Origin


class UnexpectedEventTypeError(ValueError):
    """A valid event of a type that does not belong on the topic it was read from."""


@dataclass(frozen=True)
class Rejected:
    reason: DeadLetterReason
    error: Exception


def header(origin: Origin, name: str) -> str | None:
    for key, value in origin.headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def _json_object(origin: Origin) -> dict[str, object] | Rejected:
    if origin.value is None:
        return Rejected(DeadLetterReason.DESERIALIZATION, ValueError("record has no value"))
    try:
        data = orjson.loads(origin.value)
    except orjson.JSONDecodeError as exc:
        return Rejected(DeadLetterReason.DESERIALIZATION, exc)
    if not isinstance(data, dict):
        return Rejected(
            DeadLetterReason.DESERIALIZATION,
            ValueError(f"expected a JSON object, got {type(data).__name__}"),
        )
    return data


def decode_wanted(
    origin: Origin, wanted: Collection[str], *, reject_others: bool = False
) -> EventBase | Rejected | None:
    """The event if its type is wanted; ``None`` to skip it; ``Rejected`` to dead-letter it."""
    labelled = header(origin, "event_type")
    if labelled is not None and labelled not in wanted and not reject_others:
        return None
    data = _json_object(origin)
    if isinstance(data, Rejected):
        return data
    event_type = data.get("event_type")
    if event_type in wanted:
        try:
            return parse_event(data)
        except (UnknownEventType, pydantic.ValidationError) as exc:
            return Rejected(DeadLetterReason.VALIDATION, exc)
    if not reject_others:
        return None
    return Rejected(
        DeadLetterReason.VALIDATION,
        UnexpectedEventTypeError(f"{event_type!r} does not belong on {origin.topic}"),
    )
