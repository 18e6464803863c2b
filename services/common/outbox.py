"""The transactional outbox: what a handler emits is written with its view change, relayed after.

Every record a stream handler emits — and every dead letter — is inserted into ``outbox`` inside
the handler's own transaction (``enqueue``), so a commit either holds the view change *and* the
records it causes, or neither. After the commit the pipeline relays those rows (``Relay``): it
sends each to the partition chosen when it was written, waits for every acknowledgement, and only
then stamps ``relayed_at``. A row whose relay did not finish (the process died, the broker was
away) is picked up by the relay sweeper of any replica (``FOR UPDATE SKIP LOCKED``) and sent again;
downstream consumers drop the repeat by ``event_id``. No Kafka round trip ever runs inside a
database transaction, so no row lock is held while the broker is slow.

Relayed rows are kept for the retention period: they are how a consumer catches up from
PostgreSQL when the broker has forgotten a record (``services/common/catchup.py``). The partition
is Kafka's own default choice (murmur2 of the key over the topic's partition count), so a record
lands where an ordinary keyed producer would have put it and all of one child's records share a
partition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import structlog
from aiokafka.partitioner import murmur2

from schemas.topics import ALL_TOPICS
from services.common.periodic import every
from services.common.publishing import OutRecord

log = structlog.get_logger(__name__)

PARTITIONS: Mapping[str, int] = {t.name: t.partitions for t in ALL_TOPICS}


def partition_for(
    topic: str, key: bytes | None, *, partitions: Mapping[str, int] = PARTITIONS
) -> int:
    """Kafka's default partitioner: murmur2 of the key, positive, modulo the partition count."""
    count = partitions.get(topic)
    if count is None:
        raise KeyError(f"topic {topic!r} is not in the topic contract (schemas/topics.py)")
    if key is None:
        return 0
    return int(murmur2(key) & 0x7FFFFFFF) % count


@dataclass(frozen=True)
class OutboxRow:
    """One record to relay: where it goes, what it is, which event it carries."""

    event_id: UUID
    event_type: str | None
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    id: int | None = None

    @classmethod
    def of(cls, record: OutRecord, *, event_id: UUID, event_type: str | None) -> OutboxRow:
        return cls(
            event_id=event_id,
            event_type=event_type,
            topic=record.topic,
            partition=partition_for(record.topic, record.key),
            key=record.key,
            value=record.value,
            headers=tuple(record.headers),
        )


class Sender(Protocol):
    """Sends rows to their partitions and waits for every acknowledgement."""

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None: ...


class OutboxStore(Protocol):
    async def pending(self, *, older_than_seconds: float, limit: int) -> Sequence[OutboxRow]: ...

    async def mark_relayed(self, ids: Sequence[int], *, relay_ts: datetime) -> None: ...


class KafkaSender:
    """The aiokafka producer behind the relay: explicit partition, our own timestamp."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        futures = [
            await self._producer.send(
                r.topic,
                r.value,
                key=r.key,
                partition=r.partition,
                timestamp_ms=timestamp_ms,
                headers=list(r.headers) or None,
            )
            for r in rows
        ]
        await asyncio.gather(*futures)


class RecordingSender:
    """In-memory sender for unit tests: what would have gone to Kafka, in order."""

    def __init__(self) -> None:
        self.rows: list[OutboxRow] = []
        self.fail_next: BaseException | None = None

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.rows.extend(rows)

    @property
    def records(self) -> list[OutRecord]:
        return [OutRecord(r.topic, r.key, r.value, list(r.headers)) for r in self.rows]


@dataclass
class Relay:
    """Sends committed outbox rows and stamps them relayed; the sweeper retries what was missed."""

    store: OutboxStore
    sender: Sender
    sweep_after_seconds: float = 5.0
    sweep_batch: int = 1000

    async def relay(self, rows: Sequence[OutboxRow]) -> None:
        """Send ``rows`` (already committed) and mark them; a failure is left to the sweeper."""
        if not rows:
            return
        ts_ms = int(time.time() * 1000)
        await self.sender.send(rows, timestamp_ms=ts_ms)
        ids = [r.id for r in rows if r.id is not None]
        await self.store.mark_relayed(ids, relay_ts=datetime.fromtimestamp(ts_ms / 1000, UTC))

    async def relay_or_defer(self, rows: Sequence[OutboxRow], *, producer: str) -> bool:
        """``relay``, but a failure only defers: the rows are committed, the sweeper sends them."""
        try:
            await self.relay(rows)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "outbox_relay_deferred",
                producer=producer,
                rows=len(rows),
                error_class=type(exc).__name__,
            )
            return False
        return True

    async def sweep_once(self) -> int:
        rows = await self.store.pending(
            older_than_seconds=self.sweep_after_seconds, limit=self.sweep_batch
        )
        if rows:
            await self.relay(rows)
            log.info("outbox_relayed_late", rows=len(rows))
        return len(rows)

    async def sweep_forever(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Relay what an earlier process (or an unreachable broker) left behind, until ``stop``."""

        async def drain() -> None:
            while await self.sweep_once() >= self.sweep_batch:
                pass

        await every(interval, stop, drain, name="outbox_relay")
