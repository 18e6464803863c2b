"""The one decoder: a Kafka record in, an event (or a reasoned refusal) out.

Pure. Every stream service and intake decode through here, so a record is judged the same way
wherever it is read. The three failures a data officer needs to tell apart are kept apart: the
bytes were not a JSON event at all (``deserialization``), or the event broke the contract
(``validation`` — a schema violation, an unknown type, a header with control characters). The rules
themselves are the contract's (``schemas/``: every string refuses NUL and other control characters,
``schemas/headers.py`` the same for headers). Error messages name the field and the rule, never the
value (``schemas/errors.py``), so a rejected date of birth is never copied into a dead letter, a
header or a log.

The canonical form of an accepted event is the JSON of its validated, upcast model; its SHA-256
is the content hash that tells a redelivery from an event id reused for other content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import orjson
import pydantic

from schemas.envelope import EventBase
from schemas.errors import ValueFreeError, describe_validation_error, scrub_values
from schemas.headers import check_headers as check_record_headers
from schemas.registry import UnknownEventType, UpcastFailedError, parse_event
from services.common.deadletter import DeadLetterReason, Origin


class OversizedEventError(ValueFreeError):
    """The record is larger than the consumer accepts."""


class NotAnObjectError(ValueFreeError):
    """The record is valid JSON but not a JSON object (or has no value)."""


class ContractViolationError(ValueFreeError):
    """The event breaks its model; the message lists ``field.path: rule`` without values."""


class BadHeaderError(ValueFreeError):
    """A record header is not UTF-8 text or carries control characters."""


@dataclass(frozen=True)
class Decoded:
    event: EventBase
    canonical: bytes
    content_hash: bytes


@dataclass(frozen=True)
class Refused:
    reason: DeadLetterReason
    error: Exception


def check_headers(origin: Origin) -> Refused | None:
    """The contract's header rule (``schemas/headers.py``): UTF-8 text, no control characters."""
    if (problem := check_record_headers(origin.headers)) is not None:
        return Refused(DeadLetterReason.VALIDATION, BadHeaderError(problem))
    return None


def decode_event(value: bytes | None, *, max_bytes: int | None = None) -> Decoded | Refused:
    """Decode and validate one record's value against the contract.

    The answer is a function of the bytes alone and immutable (frozen models, frozen
    dataclasses), so the last few thousand are remembered: a rebuild hands every event to each
    subscription that reads its topic, and validating the same bytes again (the text rule on
    every string) was a sixth of its time. A worker reads each record once and gains nothing."""
    if value is None:
        return Refused(DeadLetterReason.DESERIALIZATION, NotAnObjectError("record has no value"))
    if max_bytes is not None and len(value) > max_bytes:
        return Refused(
            DeadLetterReason.DESERIALIZATION,
            OversizedEventError(f"record is {len(value)} bytes; the limit is {max_bytes}"),
        )
    return _decode_value(bytes(value))


@lru_cache(maxsize=8192)
def _decode_value(value: bytes) -> Decoded | Refused:
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Refused(
            DeadLetterReason.DESERIALIZATION,
            NotAnObjectError(f"not JSON: {scrub_values(str(exc).split(':', 1)[0], limit=200)}"),
        )
    if not isinstance(data, dict):
        return Refused(
            DeadLetterReason.DESERIALIZATION,
            NotAnObjectError(f"expected a JSON object, got {type(data).__name__}"),
        )
    try:
        event = parse_event(data)
    except (UnknownEventType, UpcastFailedError) as exc:
        return Refused(DeadLetterReason.VALIDATION, exc)
    except pydantic.ValidationError as exc:
        return Refused(
            DeadLetterReason.VALIDATION, ContractViolationError(describe_validation_error(exc))
        )
    canonical = event.model_dump_json().encode()
    return Decoded(event, canonical, hashlib.sha256(canonical).digest())


def decode_record(origin: Origin, *, max_bytes: int | None = None) -> Decoded | Refused:
    """Headers first (cheap), then the value."""
    return check_headers(origin) or decode_event(origin.value, max_bytes=max_bytes)
