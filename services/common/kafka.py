"""Kafka plumbing shared by the services: topic creation, the producer, log-end offsets.

Written for both Apache Kafka and the embedded Tansu broker, whose known limits (REFERENCE.md)
shape three choices here: topics are always created explicitly with their partition counts;
producers never enable idempotence or transactions; and the log end of a partition is read from
the high watermark of a fetch, because Tansu's ``ListOffsets(latest)`` answers the last batch's
base offset + 1.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = structlog.get_logger(__name__)

#: Largest record value frontdoor accepts from partners (bytes). Larger → dead letter.
MAX_EVENT_BYTES = int(os.environ.get("FRONTDOOR_MAX_EVENT_BYTES", str(256 * 1024)))


def security_kwargs() -> dict[str, str]:
    """SASL settings for production brokers, from the environment; empty for the embedded one."""
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL")
    if not protocol:
        return {}
    kwargs = {"security_protocol": protocol}
    if mechanism := os.environ.get("KAFKA_SASL_MECHANISM"):
        kwargs["sasl_mechanism"] = mechanism
        kwargs["sasl_plain_username"] = os.environ.get("KAFKA_SASL_USERNAME", "")
        kwargs["sasl_plain_password"] = os.environ.get("KAFKA_SASL_PASSWORD", "")
    return kwargs


async def ensure_topics(bootstrap: str, topics: Iterable[tuple[str, int]]) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_kwargs())
    await admin.start()
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, partitions, 1) for name, partitions in topics if name not in existing
        ]
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    if created:
        log.info("topics_created", topics=created)
    return created


def new_producer(bootstrap: str, **overrides: object) -> AIOKafkaProducer:
    """acks=all, no idempotence (Tansu rejects InitProducerId), small linger for batching."""
    kwargs: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
        "max_request_size": 2 * 1024 * 1024,
        "enable_idempotence": False,
        **security_kwargs(),
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


async def log_end_offsets(
    bootstrap: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The log end (high watermark) of each partition, read from a fetch response.

    On Tansu ``end_offsets`` can be wrong after multi-record batches; the high watermark a fetch
    reports is right on both brokers. The consumer seeks to the earliest offset and polls once;
    ``highwater`` is then known for every partition that answered.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=1024,
        max_partition_fetch_bytes=1024,
        **security_kwargs(),
    )
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        begin = await consumer.beginning_offsets(list(partitions))
        ends: dict[TopicPartition, int] = {}
        for tp in partitions:
            # seek near the end reported by ListOffsets (never past it), then read highwater
            approx = (await consumer.end_offsets([tp]))[tp]
            consumer.seek(tp, max(begin[tp], approx - 1))
        deadline = asyncio.get_running_loop().time() + 5
        while len(ends) < len(partitions) and asyncio.get_running_loop().time() < deadline:
            await consumer.getmany(timeout_ms=200, max_records=1)
            for tp in partitions:
                hw = consumer.highwater(tp)
                if hw is not None:
                    ends[tp] = hw
        for tp in partitions:
            ends.setdefault(tp, (await consumer.end_offsets([tp]))[tp])
        return ends
    finally:
        await consumer.stop()
