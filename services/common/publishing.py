"""Publishing records and waiting for the broker's acknowledgement.

Handlers emit ``OutRecord`` values through the ``Publisher`` port; the Kafka adapter sends them
all, then waits for every acknowledgement before returning, so a caller that commits afterwards
(publish-before-commit with deterministic ids, DESIGN.md) never commits work the broker lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from schemas.envelope import EventBase

if TYPE_CHECKING:  # OutRecord is shared by pure code; only the adapter below needs aiokafka
    from aiokafka import AIOKafkaProducer


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    event_id: UUID | None = None
    """The event the record carries (the outbox and downstream de-duplication key)."""
    event_type: str | None = None


def event_record(topic: str, event: EventBase) -> OutRecord:
    """An event as a record: key = the child's id, value = its JSON, ``event_type`` header."""
    return OutRecord(
        topic,
        event.subject.child_id.encode(),
        event.model_dump_json().encode(),
        [("event_type", event.event_type.encode())],
        event_id=event.event_id,
        event_type=event.event_type,
    )


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutRecord]) -> None: ...


class KafkaPublisher:
    """Sends every record, then awaits every acknowledgement (acks=all)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        futures = [
            await self._producer.send(r.topic, r.value, key=r.key, headers=r.headers or None)
            for r in records
        ]
        await asyncio.gather(*futures)


class RecordingPublisher:
    """In-memory publisher for unit tests of handlers."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.records.extend(records)
