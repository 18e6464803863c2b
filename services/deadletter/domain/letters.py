"""Reading a record from ``frontdoor.deadletter`` into a letter, whatever bytes it carries.

A letter is identified by its content (the pipeline's ``dlq.id`` header, a UUID derived from the
original record; the pipeline hands it in), never by an offset, so a broker that restarts and
reuses offsets cannot make two letters look like one. Every header is kept exactly as sent —
name and value bytes, in order, ``dlq.*`` included — because the raw subscription skips the
pipeline's header check: a NUL, a control character or bytes that are not UTF-8 are stored and
replayed untouched. Whatever is shown (the table's text columns, the ``record_headers`` display
map, the CLI) goes through ``shown``, which escapes what PostgreSQL or a terminal cannot hold.

A record that is not a proper dead letter (a ``dlq.*`` header missing, not one of the known
values, or out of range — someone wrote to the topic by hand) is still kept, with reason
``unknown`` and its own topic as the original one: nothing on the dead-letter topic is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from schemas.text import FORBIDDEN_CHARACTERS
from services.common.deadletter import DeadLetterReason, Origin

UNKNOWN = "unknown"
"""The reason of a record on the dead-letter topic that is not a proper dead letter."""

REASONS = frozenset({*(r.value for r in DeadLetterReason), UNKNOWN})
"""Every reason a kept letter can have."""

DLQ_PREFIX = "dlq."
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

Header = tuple[str, bytes]


class NotADeadLetterError(ValueError):
    """A record on the dead-letter topic whose ``dlq.*`` headers are missing or garbled."""


class Stored(StrEnum):
    """What keeping a letter did."""

    NEW = "new"
    REOPENED = "reopened"
    """Replayed before and failed again since: waiting again."""
    KEPT_BEFORE = "kept_before"
    """Already kept (a redelivery, or a catch-up from PostgreSQL): nothing changes."""


@dataclass(frozen=True)
class Letter:
    letter_id: UUID
    dlq_partition: int
    dlq_offset: int
    reason: str
    exception_class: str
    exception_message: str
    original_topic: str
    original_partition: int
    original_offset: int
    consumer_group: str
    failed_at: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    """Every header of the dead-letter record, exactly as read, in order."""

    @property
    def shown_headers(self) -> dict[str, str]:
        """The original (non-``dlq.*``) headers as safe text, last value wins: for display."""
        return shown_header_map(self.headers)


@dataclass(frozen=True)
class KeptLetter:
    """What the table already holds for a letter id."""

    failed_at: datetime
    replayed_at: datetime | None


def shown(data: bytes | str | None) -> str:
    """Text anyone can store and print: bytes that are not UTF-8 as ``\\xNN``, controls as
    ``\\uNNNN``. For display only; the exact bytes are kept beside."""
    if data is None:
        return ""
    text = data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")
    return FORBIDDEN_CHARACTERS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def original_headers(headers: Iterable[Header]) -> tuple[Header, ...]:
    """The headers the original record carried: all but the ``dlq.*`` ones, in order."""
    return tuple((k, v) for k, v in headers if not k.startswith(DLQ_PREFIX))


def shown_header_map(headers: Iterable[Header]) -> dict[str, str]:
    return {shown(k): shown(v) for k, v in original_headers(headers)}


def decide(letter: Letter, kept: KeptLetter | None) -> Stored:
    """New; a letter replayed before that failed again since (a later ``failed_at``: the
    replayed record was dead-lettered once more) is waiting again; anything else is a repeat.

    A repeat after a replay carries the stored ``failed_at`` (the same outbox row, sent again or
    caught up from PostgreSQL), so it does not reopen the letter.
    """
    if kept is None:
        return Stored.NEW
    if kept.replayed_at is not None and letter.failed_at > kept.failed_at:
        return Stored.REOPENED
    return Stored.KEPT_BEFORE


def read_letter(origin: Origin, letter_id: UUID, *, received_at: datetime) -> Letter:
    """The letter ``origin`` carries; a record that is not a proper one is kept as ``unknown``."""
    try:
        return _proper(origin, letter_id)
    except NotADeadLetterError as exc:
        return Letter(
            letter_id=letter_id,
            dlq_partition=origin.partition,
            dlq_offset=origin.offset,
            reason=UNKNOWN,
            exception_class=f"{type(exc).__module__}.{type(exc).__qualname__}",
            exception_message=str(exc),
            original_topic=shown(origin.topic),
            original_partition=origin.partition,
            original_offset=origin.offset,
            consumer_group=UNKNOWN,
            failed_at=received_at,
            key=origin.key,
            value=origin.value,
            headers=origin.headers,
        )


def _proper(origin: Origin, letter_id: UUID) -> Letter:
    dlq = {k: v for k, v in origin.headers if k.startswith(DLQ_PREFIX)}  # last one wins
    reason = _text(dlq, "dlq.reason")
    if reason not in REASONS - {UNKNOWN}:
        raise NotADeadLetterError("dead letter's dlq.reason header is not a known reason")
    return Letter(
        letter_id=letter_id,
        dlq_partition=origin.partition,
        dlq_offset=origin.offset,
        reason=reason,
        exception_class=shown(_raw(dlq, "dlq.exception.class")),
        exception_message=shown(_raw(dlq, "dlq.exception.message")),
        original_topic=_text(dlq, "dlq.original.topic"),
        original_partition=_integer(dlq, "dlq.original.partition", INT32),
        original_offset=_integer(dlq, "dlq.original.offset", INT64),
        consumer_group=shown(_raw(dlq, "dlq.consumer.group")),
        failed_at=_moment(dlq, "dlq.failed.at"),
        key=origin.key,
        value=origin.value,
        headers=origin.headers,
    )


def _raw(dlq: Mapping[str, bytes], name: str) -> bytes:
    try:
        return dlq[name]
    except KeyError:
        raise NotADeadLetterError(f"dead letter lacks the {name} header") from None


def _text(dlq: Mapping[str, bytes], name: str) -> str:
    """A header that must be clean text as it is (it is matched or sent, not only shown)."""
    try:
        text = _raw(dlq, name).decode("utf-8")
    except UnicodeDecodeError:
        raise NotADeadLetterError(f"dead letter's {name} header is not UTF-8") from None
    if not text or FORBIDDEN_CHARACTERS.search(text):
        raise NotADeadLetterError(f"dead letter's {name} header is empty or not plain text")
    return text


def _integer(dlq: Mapping[str, bytes], name: str, bounds: tuple[int, int]) -> int:
    text = _text(dlq, name)
    try:
        number = int(text)
    except ValueError:
        raise NotADeadLetterError(f"dead letter's {name} header is not an integer") from None
    if not bounds[0] <= number <= bounds[1]:
        raise NotADeadLetterError(f"dead letter's {name} header is out of range")
    return number


def _moment(dlq: Mapping[str, bytes], name: str) -> datetime:
    text = _text(dlq, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise NotADeadLetterError(f"dead letter's {name} header is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:  # in UTC, as stored: year 1 east of Greenwich or 9999 west of it does not exist
        return moment.astimezone(UTC)
    except OverflowError:
        raise NotADeadLetterError(f"dead letter's {name} header is out of range") from None
