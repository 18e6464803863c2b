"""The dead-letter console's pure rules: what opening a letter shows, and what a replay asks for.

Opening a letter (``letter_view``) shows its headers, where it came from (original topic,
partition, offset, consumer group), why it failed — the reason code, the exception class and,
per failing field, the field and the rule (``field: rule`` items of ``dlq.exception.message``,
value-scrubbed again in case an old letter quoted one) — and its value with personal data
masked. Masking is the project's one privacy walk (``services.common.privacy.redacted``, the
deny-list the log processor uses) in its masking mode: every personal key (names, dates of
birth, addresses, NHS numbers, narrative, and the containers ``payload``, ``child``, …) is kept
with every value under it replaced by ``MASK``, so the shape and the field a letter names stay
readable; free-text keys are value-scrubbed. A value that is not JSON is shown as its length
only; a JSON value that is not an object is masked whole. Headers go through the same walk.
Invariant: nothing in a ``LetterView`` is a value from under a personal key.

A replay (``ReplayRequest``) names the same filters as ``frontdoor dlq replay`` (ids, reason,
event type, agency, raw); ``confirm`` is the count the page showed and the operator accepted —
the dead-letter service refuses the replay if the filter now chooses another number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.text import scrub
from services.common.privacy import redacted

MASK = "•••"
"""What a masked value is shown as."""

EXCEPTION_MESSAGE_HEADER = "dlq.exception.message"
MAX_IDS = 500
MAX_FILTER_CHARS = 100

Header = tuple[str, bytes]


@dataclass(frozen=True)
class LetterRecord:
    """A kept letter as the console reads it (the ``deadletters`` row, exact headers)."""

    id: int
    letter_id: str | None
    failed_at: datetime
    replayed_at: datetime | None
    reason: str
    exception_class: str
    exception_message: str
    original_topic: str
    original_partition: int
    original_offset: int
    consumer_group: str
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]


class FieldRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    """The failing field's path (``payload.child.date_of_birth``), or ``(root)``."""
    rule: str
    """What was expected (pydantic's message), never the value."""


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    """``dlq.reason``: deserialization, validation, processing (or unknown)."""
    exception_class: str
    message: str
    fields: tuple[FieldRule, ...]


class Origin(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    consumer_group: str


class ShownHeader(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: str


class ShownValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: str
    """``json`` (shown, masked), ``bytes`` (not JSON: only its length) or ``none``."""
    bytes: int
    body: Any = None
    """The JSON value, masked (``format`` json only)."""
    masked: tuple[str, ...] = ()
    """The paths whose values are masked."""


class LetterView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    letter_id: str | None
    failed_at: AwareDatetime
    replayed_at: AwareDatetime | None
    waiting: bool
    reason: Reason
    origin: Origin
    key: str | None
    headers: tuple[ShownHeader, ...]
    value: ShownValue


def _text(raw: bytes) -> str:
    return scrub(raw.decode("utf-8", "replace"), "\ufffd")


def _scrubbed(text: str) -> str:
    cleaned, _ = redacted(text, free_text=True)
    return str(cleaned)


def reason_fields(message: str) -> tuple[FieldRule, ...]:
    """The ``field: rule`` items of a dead letter's message (``describe_validation_error``),
    each part value-scrubbed on its own (a rule right after ``date_of_birth:`` is not a value)."""
    rules = []
    for item in message.split("; "):
        field, sep, rule = item.partition(": ")
        if sep and field and " " not in field.strip():
            rules.append(FieldRule(field=_scrubbed(field.strip()), rule=_scrubbed(rule.strip())))
    return tuple(rules)


def _message(message: str) -> str:
    """The message value-scrubbed: item by item when it is ``field: rule`` items."""
    fields = reason_fields(message)
    if fields and len(fields) == len(message.split("; ")):
        return "; ".join(f"{f.field}: {f.rule}" for f in fields)
    return _scrubbed(message)


def _headers(headers: Sequence[Header]) -> tuple[ShownHeader, ...]:
    shown = []
    for name, raw in headers:
        value: Any = _text(raw)
        if name == EXCEPTION_MESSAGE_HEADER:
            value = _message(value)
        else:
            masked, _ = redacted({name: value}, mask=MASK)
            value = masked[name]
        shown.append(ShownHeader(name=scrub(name, "\ufffd"), value=str(value)))
    return tuple(shown)


def _value(raw: bytes | None) -> ShownValue:
    if raw is None:
        return ShownValue(format="none", bytes=0)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ShownValue(format="bytes", bytes=len(raw))
    if not isinstance(body, dict):  # a bare string or list may be anything: masked whole
        whole, _ = redacted({"value": body}, mask=MASK)
        return ShownValue(format="json", bytes=len(raw), body=whole["value"], masked=("(root)",))
    masked, paths = redacted(body, mask=MASK)
    return ShownValue(format="json", bytes=len(raw), body=masked, masked=tuple(paths))


def letter_view(record: LetterRecord) -> LetterView:
    """What the console shows of one letter (see the module docstring)."""
    message = _message(record.exception_message)
    return LetterView(
        id=record.id,
        letter_id=record.letter_id,
        failed_at=record.failed_at,
        replayed_at=record.replayed_at,
        waiting=record.replayed_at is None,
        reason=Reason(
            code=record.reason,
            exception_class=record.exception_class,
            message=message,
            fields=reason_fields(message),
        ),
        origin=Origin(
            topic=record.original_topic,
            partition=record.original_partition,
            offset=record.original_offset,
            consumer_group=record.consumer_group,
        ),
        key=None if record.key is None else _text(record.key),
        headers=_headers(record.headers),
        value=_value(record.value),
    )


class ReplayFilter(BaseModel):
    """The letters a replay chooses: the filters ``frontdoor dlq replay`` takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ids: tuple[int, ...] | None = Field(default=None, min_length=1, max_length=MAX_IDS)
    reason: str | None = Field(default=None, max_length=MAX_FILTER_CHARS)
    event_type: str | None = Field(default=None, max_length=MAX_FILTER_CHARS)
    agency: str | None = Field(default=None, max_length=MAX_FILTER_CHARS)
    raw: bool = False
    """Re-send letters whose value is not a JSON object too."""


class ReplayRequest(ReplayFilter):
    """A replay the operator confirmed: ``confirm`` is the count the page showed."""

    confirm: int = Field(ge=0)


class ReplayPreview(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int
    ids: tuple[int, ...]
    """The first ``MAX_PREVIEW_IDS`` ids the replay would re-send."""
    filter: ReplayFilter


MAX_PREVIEW_IDS = 50


def replay_preview(choice: ReplayFilter, ids: Sequence[int]) -> ReplayPreview:
    return ReplayPreview(count=len(ids), ids=tuple(ids[:MAX_PREVIEW_IDS]), filter=choice)


class ReplayRefusedError(ValueError):
    """The filter names nothing it may re-send (the message is one line, no values)."""


class ReplayCountChangedError(ReplayRefusedError):
    """The filter chooses another number of letters than the operator confirmed."""

    def __init__(self, message: str, *, expected: int, found: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found
