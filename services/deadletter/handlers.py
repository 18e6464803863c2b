"""Recording dead letters so people can list and replay them.

A record that is not a proper dead letter (no ``dlq.*`` headers — someone wrote to the topic by
hand) is still kept, with reason ``unknown``: nothing on the dead-letter topic is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from services.common.deadletter import Origin, header_map
from services.deadletter.domain.letters import DeadLetterRow, NotADeadLetterError, row_from_record

log = structlog.get_logger(__name__)


class DeadLetterStore(Protocol):
    async def record(self, rows: Sequence[DeadLetterRow]) -> int: ...


@dataclass
class DeadLetterHandler:
    store: DeadLetterStore

    async def handle_batch(self, records: Sequence[Origin]) -> int:
        rows = []
        for record in records:
            try:
                row = row_from_record(record)
            except NotADeadLetterError as exc:
                row = DeadLetterRow(
                    dlq_partition=record.partition,
                    dlq_offset=record.offset,
                    reason="unknown",
                    exception_class=type(exc).__name__,
                    exception_message=str(exc),
                    original_topic=record.topic,
                    original_partition=record.partition,
                    original_offset=record.offset,
                    consumer_group="unknown",
                    failed_at=datetime.now(UTC),
                    key=record.key,
                    value=record.value,
                    original_headers=header_map(record.headers),
                )
            rows.append(row)
            log.info(
                "deadletter_recorded",
                reason=row.reason,
                original_topic=row.original_topic,
                original_partition=row.original_partition,
                original_offset=row.original_offset,
                consumer_group=row.consumer_group,
            )
        return await self.store.record(rows)
