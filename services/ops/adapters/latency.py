"""Tails ``partner.events`` for publish times: event id and record timestamp into the ledger.

A consumer without a group, assigned every partition of ``partner.events`` from its end, reads
each new record's ``event_id`` and Kafka timestamp (CreateTime: when the partner's producer
published it) into a `PublishLedger`; the board refresher later matches them with
``events.recorded_at`` (services.ops.domain.latency says exactly what is measured). Records that
are not JSON objects with an ``event_id`` UUID are skipped: they never reach the table anyway.
Starting "from the end" on Tansu can re-read part of the last batch, so records stamped before
the tail started are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from uuid import UUID

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.topics import PARTNER_EVENTS
from services.common.kafka import security_kwargs
from services.ops.domain.latency import PublishLedger

log = structlog.get_logger(__name__)


def event_id_of(value: bytes | None) -> UUID | None:
    if not value:
        return None
    try:
        data = orjson.loads(value)
        return UUID(str(data["event_id"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class PublishTail:
    def __init__(self, bootstrap: str, ledger: PublishLedger, *, topic: str = PARTNER_EVENTS.name):
        self._bootstrap = bootstrap
        self._ledger = ledger
        self._topic = topic
        self.records_seen = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Tail the topic until ``stop`` is set; a broker error restarts the tail after 2 s."""
        while not stop.is_set():
            try:
                await self._tail(stop)
            except (KafkaError, OSError) as exc:
                log.warning("publish_tail_failed", error=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)

    async def _tail(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **security_kwargs(),
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self._topic)
            if not partitions:  # topic not created yet: look again shortly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
                return
            consumer.assign([TopicPartition(self._topic, p) for p in sorted(partitions)])
            await consumer.seek_to_end()
            since_ms = int(datetime.now(UTC).timestamp() * 1000)
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        if record.timestamp < since_ms:
                            continue
                        event_id = event_id_of(record.value)
                        if event_id is not None:
                            self.records_seen += 1
                            self._ledger.published(
                                event_id, datetime.fromtimestamp(record.timestamp / 1000, UTC)
                            )
        finally:
            await consumer.stop()
