"""The scanner's publisher: aiokafka's batch API behind the `Publisher` port.

When a backlog of clocks falls due together the relay publishes thousands of records a second,
and ``AIOKafkaProducer.send`` costs a future and an accumulator lookup per record. This adapter
puts the records into one ``BatchBuilder`` per partition and submits each with ``send_batch``,
then awaits every acknowledgement (same contract as `services.common.publishing.KafkaPublisher`:
return only when the broker has them all). The partition is the one the producer's default
partitioner would choose for the key — the same list of the topic's partitions, the same
partitioner — so a child's records stay on one partition whichever publisher sent them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from services.common.publishing import OutRecord


class BatchPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def _partition(self, record: OutRecord) -> int:
        await self._producer.partitions_for(record.topic)  # metadata for the topic is known
        partition: int = self._producer._partition(  # the producer's own default partitioner
            record.topic, None, record.key, record.value, record.key, record.value
        )
        return partition

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        groups: dict[tuple[str, int], list[OutRecord]] = {}
        for record in records:
            groups.setdefault((record.topic, await self._partition(record)), []).append(record)
        futures: list[asyncio.Future[object]] = []
        for (topic, partition), group in groups.items():
            batch = self._producer.create_batch()
            for record in group:
                appended = batch.append(
                    key=record.key, value=record.value, timestamp=None, headers=record.headers
                )
                if appended is None:  # full: send it and start the next one
                    futures.append(
                        await self._producer.send_batch(batch, topic, partition=partition)
                    )
                    batch = self._producer.create_batch()
                    batch.append(
                        key=record.key, value=record.value, timestamp=None, headers=record.headers
                    )
            futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
