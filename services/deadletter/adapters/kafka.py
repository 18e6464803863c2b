"""Re-sending replayed records to Kafka: key, value and headers exactly as given.

No partition is named: the producer's default partitioner places a keyed record by its key, as
the original producer did. One producer per replay, started only when there is something to send;
the sending itself is the shared ``KafkaPublisher`` (every acknowledgement awaited).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.kafka import new_producer
from services.common.publishing import KafkaPublisher, OutRecord


class KafkaResender:
    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        producer = new_producer(self._bootstrap)
        try:
            await producer.start()  # a failed start still holds a client: stopped below too
            await KafkaPublisher(producer).publish(records)
        finally:
            await producer.stop()
