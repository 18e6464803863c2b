"""Checking a submission: one event or a batch, each event accepted or rejected with a reason.

``read_submission`` turns the request body into the list of events it holds (a single event
object, or ``{"events": [...]}`` with 1..max_batch items) or a request-level refusal. ``check``
then judges every event on its own, security first: an event naming another agency in
``source.agency`` is refused (403 ``agency_mismatch``) and so is an event type the agency's role
does not allow (403 ``event_type_not_permitted``) before its content is validated, so a spoofing
attempt is reported as such however sloppy the rest of the event is; then the event must fit the
size limit and validate against the same ``schemas/`` models intake uses (422). Errors name the
field (``loc``), the reason (``msg``) and pydantic's error ``type``, never the submitted value;
messages name the event type as a partner writes it (``police.da_notification v1``) and the
expected format of a date or date-time, never a Python class (``PoliceDaNotification``).
``against_known`` finally holds each accepted event against the content hash its id is already
stored with: other content is 409 ``event_id_reused``, the same content an idempotent repeat.
Pure: bytes and settings in, verdicts out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import pydantic

from schemas.envelope import Agency, EventBase
from schemas.registry import (
    EVENT_MODELS,
    INBOUND_TYPES,
    UnknownEventType,
    UpcastFailedError,
    parse_event,
)
from schemas.roles import AGENCY_MISMATCH, RoleTable, lane_violations
from services.ingress.domain.codes import Code

MAX_ERRORS_PER_EVENT = 20
KNOWN_TYPES = frozenset(event_type for event_type, _ in EVENT_MODELS)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    loc: Loc
    msg: str
    type: str


@dataclass(frozen=True)
class RequestRejected:
    """The body as a whole cannot be read as events."""

    code: Code
    detail: str
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class Submission:
    """The events a request holds, as decoded JSON, with the size of each in bytes."""

    items: tuple[Any, ...]
    sizes: tuple[int, ...]
    batch: bool


@dataclass(frozen=True)
class EventAccepted:
    index: int
    event: EventBase
    canonical: bytes


@dataclass(frozen=True)
class EventRejected:
    index: int
    event_id: UUID | None
    code: Code
    detail: str
    errors: tuple[FieldError, ...] = ()

    @property
    def status(self) -> int:
        return self.code.status


Verdict = EventAccepted | EventRejected


def read_submission(  # noqa: PLR0911 - one return per documented refusal
    body: bytes, *, max_batch: int
) -> Submission | RequestRejected:
    """Decode the body: a single event object, or ``{"events": [...]}``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return RequestRejected(Code.MALFORMED_JSON, f"the body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return RequestRejected(
            Code.INVALID_REQUEST,
            f'expected an event object or {{"events": [...]}}, got a JSON {_json_type(data)}',
        )
    if "events" not in data:
        return Submission(items=(data,), sizes=(len(body),), batch=False)
    extra = sorted(str(k) for k in data if k != "events")
    if extra:
        return RequestRejected(
            Code.INVALID_REQUEST,
            "a batch is an object with the single key 'events'",
            tuple(
                FieldError((k,), "Extra inputs are not permitted", "extra_forbidden") for k in extra
            ),
        )
    events = data["events"]
    if not isinstance(events, list) or not events:
        return RequestRejected(
            Code.INVALID_REQUEST,
            "'events' must be a non-empty array of event objects",
            (FieldError(("events",), "Expected a non-empty array", "list_type"),),
        )
    if len(events) > max_batch:
        return RequestRejected(
            Code.TOO_MANY_EVENTS,
            f"the batch holds {len(events)} events; at most {max_batch} are accepted per request",
        )
    sizes = tuple(len(orjson.dumps(item)) for item in events)
    return Submission(items=tuple(events), sizes=sizes, batch=True)


def check(
    submission: Submission, *, agency: Agency, roles: RoleTable, max_event_bytes: int
) -> list[Verdict]:
    """Judge every event; a repeated ``event_id`` in one batch is refused after its first use."""
    verdicts: list[Verdict] = []
    seen: set[UUID] = set()
    for index, (item, size) in enumerate(zip(submission.items, submission.sizes, strict=True)):
        verdict = check_event(
            index, item, size, agency=agency, roles=roles, max_event_bytes=max_event_bytes
        )
        if isinstance(verdict, EventAccepted):
            event_id = verdict.event.event_id
            if event_id in seen:
                verdict = EventRejected(
                    index,
                    event_id,
                    Code.DUPLICATE_EVENT_ID,
                    f"event_id {event_id} appears earlier in this batch; each event needs its own",
                    (FieldError(("event_id",), "Duplicate event_id in batch", "duplicate"),),
                )
            seen.add(event_id)
        verdicts.append(verdict)
    return verdicts


def check_event(  # noqa: PLR0911 - one return per documented refusal
    index: int,
    item: Any,
    size: int,
    *,
    agency: Agency,
    roles: RoleTable,
    max_event_bytes: int,
) -> Verdict:
    """Accept one event, or reject it with the first reason that applies (security first)."""
    event_id = _claimed_event_id(item)
    if not isinstance(item, dict):
        return EventRejected(
            index,
            None,
            Code.INVALID_EVENT,
            f"an event is a JSON object, got a JSON {_json_type(item)}",
            (FieldError((), "Input should be an object", "dict_type"),),
        )
    refused = _refuse_by_role(index, event_id, item, agency=agency, roles=roles)
    if refused is not None:
        return refused
    if size > max_event_bytes:
        return EventRejected(
            index,
            event_id,
            Code.EVENT_TOO_LARGE,
            f"the event is {size} bytes; the limit is {max_event_bytes}",
        )
    try:
        event = parse_event(item)
    except UnknownEventType as exc:
        return EventRejected(
            index, event_id, Code.UNKNOWN_EVENT_TYPE, _unknown_detail(exc), _unknown(item)
        )
    except pydantic.ValidationError as exc:
        return EventRejected(
            index,
            event_id,
            Code.INVALID_EVENT,
            _invalid_detail(exc.error_count(), _type_named(item)),
            field_errors(exc),
        )
    except UpcastFailedError as exc:  # valid for its old version, but it cannot be upgraded
        return EventRejected(
            index,
            event_id,
            Code.INVALID_EVENT,
            f"{exc}; send it as the current schema_version",
            (FieldError(("schema_version",), "cannot be upgraded to the current version",
                        "upcast_failed"),),
        )  # fmt: skip
    # the raw checks saw the submitted dict; on the validated event apply the lane rule intake
    # applies to every record (schemas/roles.py), which also reads the payload's author fields
    violations = lane_violations(agency, event, roles)
    if violations:
        mismatch = violations[0].rule == AGENCY_MISMATCH
        return EventRejected(
            index,
            event.event_id,
            Code.AGENCY_MISMATCH if mismatch else Code.EVENT_TYPE_NOT_PERMITTED,
            f"this API key belongs to {agency.value}; " + "; ".join(v.message for v in violations),
            tuple(
                FieldError(v.loc, f"Must be {agency.value!r}", v.rule)
                if v.rule == AGENCY_MISMATCH
                else FieldError(v.loc, "Event type not permitted", "not_permitted")
                for v in violations
            ),
        )
    return EventAccepted(index, event, event.model_dump_json().encode())


def against_known(
    verdicts: Sequence[EventAccepted | EventRejected], known: Mapping[UUID, bytes]
) -> tuple[list[EventAccepted | EventRejected], set[UUID]]:
    """An accepted event whose id is stored with other content is refused (409); with the same
    content it stays accepted and is returned among the repeats (stored already)."""
    out: list[EventAccepted | EventRejected] = []
    repeats: set[UUID] = set()
    for v in verdicts:
        stored = known.get(v.event.event_id) if isinstance(v, EventAccepted) else None
        if stored is None or not isinstance(v, EventAccepted):
            out.append(v)
        elif stored == hashlib.sha256(v.canonical).digest():
            repeats.add(v.event.event_id)
            out.append(v)
        else:
            out.append(
                EventRejected(
                    v.index,
                    v.event.event_id,
                    Code.EVENT_ID_REUSED,
                    f"this {v.event.event_type} event's event_id was already used for an event "
                    "with different content; an event_id names one event for ever: give a new "
                    "event its own, or resend the original unchanged",
                    (
                        FieldError(
                            ("event_id",),
                            "event_id already used for other content",
                            "event_id_reused",
                        ),
                    ),
                )
            )
    return out, repeats


DATETIME_EXPECTED = "expected an ISO 8601 date-time with offset, e.g. 2025-03-04T10:30:00+00:00"
DATE_EXPECTED = "expected an ISO 8601 date, e.g. 2025-03-04"
_EXPECTED: dict[str, str] = {
    **dict.fromkeys(
        ("datetime_parsing", "datetime_from_date_parsing", "datetime_type", "timezone_aware"),
        DATETIME_EXPECTED,
    ),
    **dict.fromkeys(
        ("date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_type"),
        DATE_EXPECTED,
    ),
    **dict.fromkeys(
        ("model_type", "model_attributes_type", "dataclass_type", "dataclass_exact_type"),
        "expected a JSON object",
    ),
}
"""Messages that say what format was expected where pydantic's say only what went wrong
(a UK date ``04/03/2025`` is otherwise "invalid character in year"), or name a Python class
("Input should be a valid dictionary or instance of PoliceDaNotificationPayload")."""


def _invalid_detail(count: int, named: str) -> str:
    fields = "1 field is" if count == 1 else f"{count} fields are"
    return f"{named}: {fields} not valid (see errors: loc names each field, msg the problem)"


def field_errors(exc: pydantic.ValidationError) -> tuple[FieldError, ...]:
    """Pydantic's errors without the submitted values (no ``input``, no ``ctx``); date and
    date-time errors name the expected format."""
    details = exc.errors(include_url=False, include_input=False, include_context=False)
    return tuple(
        FieldError(tuple(d["loc"]), _EXPECTED.get(d["type"], d["msg"]), d["type"])
        for d in details[:MAX_ERRORS_PER_EVENT]
    )


def _type_named(item: dict[str, Any]) -> str:
    """The event type and version the item claims, as a partner wrote them (short)."""
    event_type, version = item.get("event_type"), item.get("schema_version")
    if isinstance(event_type, str) and event_type in KNOWN_TYPES:
        return f"{event_type} v{version}" if isinstance(version, int) else event_type
    return "the event"


def _refuse_by_role(
    index: int, event_id: UUID | None, item: dict[str, Any], *, agency: Agency, roles: RoleTable
) -> EventRejected | None:
    source = item.get("source")
    claimed = source.get("agency") if isinstance(source, dict) else None
    if isinstance(claimed, str) and claimed in _AGENCY_VALUES and claimed != agency.value:
        return EventRejected(
            index,
            event_id,
            Code.AGENCY_MISMATCH,
            f"this API key belongs to {agency.value}; the event says source.agency={claimed}",
            (FieldError(("source", "agency"), f"Must be {agency.value!r}", "agency_mismatch"),),
        )
    event_type = item.get("event_type")
    if isinstance(event_type, str) and event_type in KNOWN_TYPES:
        if event_type not in INBOUND_TYPES:
            detail = f"{event_type} is published by frontdoor itself; partners may not send it"
        elif not roles.allows(agency, event_type):
            detail = f"the {agency.value} agency may not submit {event_type}"
        else:
            return None
        return EventRejected(
            index,
            event_id,
            Code.EVENT_TYPE_NOT_PERMITTED,
            detail,
            (FieldError(("event_type",), "Event type not permitted", "not_permitted"),),
        )
    return None


_AGENCY_VALUES = frozenset(a.value for a in Agency)


def _claimed_event_id(item: Any) -> UUID | None:
    raw = item.get("event_id") if isinstance(item, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return UUID(raw)
    except ValueError:
        return None


def _unknown(item: dict[str, Any]) -> tuple[FieldError, ...]:
    event_type = item.get("event_type")
    if not isinstance(event_type, str) or event_type not in KNOWN_TYPES:
        return (FieldError(("event_type",), "Unknown event type", "unknown_event_type"),)
    versions = sorted(v for t, v in EVENT_MODELS if t == event_type)
    return (
        FieldError(
            ("schema_version",),
            f"Unknown schema_version for {event_type}; known: {versions}",
            "unknown_schema_version",
        ),
    )


def _unknown_detail(exc: UnknownEventType) -> str:
    if exc.event_type is None:
        return "the event has no event_type (a string such as 'contact.received')"
    if exc.schema_version is None:
        return "the event has no schema_version (an integer)"
    return f"no event model for {exc.event_type[:80]!r} schema_version {exc.schema_version}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
