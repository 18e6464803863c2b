"""The dead-letter record: the original key, value and headers plus ``dlq.*`` headers.

Follows the Kafka Connect / KIP-1034 idea (REFERENCE.md): nothing about the failed record is
rewritten, so a dead letter can be replayed byte for byte after a fix. ``dlq.reason`` is one of
``deserialization`` (not JSON, too large, not an object), ``validation`` (a schema or invariant
violation, an unknown event type, a reused event id) or ``processing`` (a handler failed after
its bounded retries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.topics import DEADLETTER
from services.common.publishing import OutRecord

#: Exception messages are truncated: they may quote input, and headers must stay small.
MAX_MESSAGE_CHARS = 1000


class DeadLetterReason(StrEnum):
    DESERIALIZATION = "deserialization"
    VALIDATION = "validation"
    PROCESSING = "processing"


@dataclass(frozen=True)
class Origin:
    """Where a record was read from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    origin: Origin
    reason: DeadLetterReason
    exception_class: str
    exception_message: str
    consumer_group: str
    failed_at: datetime
    extra_headers: tuple[tuple[str, bytes], ...] = field(default=())

    def headers(self) -> list[tuple[str, bytes]]:
        """Original headers first, then the ``dlq.*`` ones (replacing any older dlq.* set)."""
        kept = [(k, v) for k, v in self.origin.headers if not k.startswith("dlq.")]
        return [
            *kept,
            ("dlq.reason", self.reason.value.encode()),
            ("dlq.exception.class", self.exception_class.encode()),
            ("dlq.exception.message", self.exception_message[:MAX_MESSAGE_CHARS].encode()),
            ("dlq.original.topic", self.origin.topic.encode()),
            ("dlq.original.partition", str(self.origin.partition).encode()),
            ("dlq.original.offset", str(self.origin.offset).encode()),
            ("dlq.consumer.group", self.consumer_group.encode()),
            ("dlq.failed.at", self.failed_at.isoformat().encode()),
            *self.extra_headers,
        ]

    def record(self) -> OutRecord:
        """The record for ``frontdoor.deadletter``: original key and value, headers as above."""
        return OutRecord(DEADLETTER.name, self.origin.key, self.origin.value, self.headers())


def header_map(headers: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]]) -> dict[str, str]:
    """Last value wins; decoded for display."""
    return {k: v.decode("utf-8", "replace") for k, v in headers}
