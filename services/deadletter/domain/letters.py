"""Reading a dead-letter record back: the ``dlq.*`` headers into a row, the rest kept as sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.common.deadletter import Origin, header_map


class NotADeadLetterError(ValueError):
    """A record on the dead-letter topic without the dlq.* headers."""


@dataclass(frozen=True)
class DeadLetterRow:
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
    original_headers: dict[str, str]


def row_from_record(record: Origin) -> DeadLetterRow:
    h = header_map(record.headers)
    try:
        return DeadLetterRow(
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            reason=h["dlq.reason"],
            exception_class=h["dlq.exception.class"],
            exception_message=h["dlq.exception.message"],
            original_topic=h["dlq.original.topic"],
            original_partition=int(h["dlq.original.partition"]),
            original_offset=int(h["dlq.original.offset"]),
            consumer_group=h["dlq.consumer.group"],
            failed_at=datetime.fromisoformat(h["dlq.failed.at"]),
            key=record.key,
            value=record.value,
            original_headers={k: v for k, v in h.items() if not k.startswith("dlq.")},
        )
    except (KeyError, ValueError) as exc:
        raise NotADeadLetterError(f"dead-letter record lacks or garbles {exc}") from exc
