"""The scanner's sender: aiokafka's batch API behind the outbox relay's `Sender` port.

When a backlog of clocks falls due together the scanner relays thousands of announcements a
second, and ``AIOKafkaProducer.send`` costs a future and an accumulator lookup per record. This
sender puts the rows into one ``BatchBuilder`` per partition and submits each with
``send_batch``, then awaits every acknowledgement — the same contract as
``services.common.outbox.KafkaSender``: each row goes to the partition chosen when it was written
to the outbox (Kafka's default partitioner over the key), with the relay's timestamp, and the
call returns only when the broker has them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from services.common.outbox import OutboxRow


class BatchSender:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
        if not rows:
            return
        groups: dict[tuple[str, int], list[OutboxRow]] = {}
        for row in rows:
            groups.setdefault((row.topic, row.partition), []).append(row)
        futures: list[asyncio.Future[object]] = []
        for (topic, partition), group in groups.items():
            batch = self._producer.create_batch()
            for row in group:
                headers = list(row.headers)
                appended = batch.append(
                    key=row.key, value=row.value, timestamp=timestamp_ms, headers=headers
                )
                if appended is None:  # full: send it and start the next one
                    futures.append(
                        await self._producer.send_batch(batch, topic, partition=partition)
                    )
                    batch = self._producer.create_batch()
                    batch.append(
                        key=row.key, value=row.value, timestamp=timestamp_ms, headers=headers
                    )
            futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
