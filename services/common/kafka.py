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
import time
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

log = structlog.get_logger(__name__)

#: Largest record value frontdoor accepts from partners (bytes). Larger → dead letter.
MAX_EVENT_BYTES = int(os.environ.get("FRONTDOOR_MAX_EVENT_BYTES", str(256 * 1024)))


def security_kwargs() -> dict[str, Any]:
    """TLS/SASL settings for production brokers, from the environment; empty for the embedded one.

    ``KAFKA_SECURITY_PROTOCOL`` (SASL_SSL, SASL_PLAINTEXT, SSL), ``KAFKA_SASL_MECHANISM``
    (SCRAM-SHA-512, PLAIN), ``KAFKA_SASL_USERNAME`` / ``KAFKA_SASL_PASSWORD`` and, for TLS,
    ``KAFKA_SSL_CAFILE`` (the cluster CA; the system store when unset).
    """
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL")
    if not protocol:
        return {}
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if "SSL" in protocol:
        kwargs["ssl_context"] = create_ssl_context(cafile=os.environ.get("KAFKA_SSL_CAFILE"))
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


class LogEndReader:
    """Reads partition log ends (high watermarks) from fetch responses, for pollers.

    One long-lived consumer without a group, assigned to the partitions asked for, paused between
    reads. A read seeks each partition to its last known high watermark (so nothing already
    counted is fetched again), resumes, and waits until every partition has answered a fetch sent
    after the read began; the high watermark of that answer is the log end. Fetches ask for at
    most 1 KiB per partition, so a read costs one small round trip however far the log grew.
    Partitions that do not answer within ``timeout`` seconds are left out of the result.
    """

    def __init__(self, bootstrap: str, *, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=1024,
            **security_kwargs(),
        )
        self._assigned: frozenset[TopicPartition] = frozenset()

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def read(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        wanted = frozenset(partitions)
        if not wanted:
            return {}
        consumer = self._consumer
        if wanted != self._assigned:
            consumer.assign(list(wanted))
            self._assigned = wanted
        started_ms = int(time.time() * 1000)
        for tp in wanted:
            if (hw := consumer.highwater(tp)) is not None:
                consumer.seek(tp, hw)
        consumer.resume(*wanted)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        ends: dict[TopicPartition, int] = {}
        try:
            while True:
                for tp in wanted - ends.keys():
                    polled = consumer.last_poll_timestamp(tp)
                    hw = consumer.highwater(tp)
                    if polled is not None and polled >= started_ms and hw is not None:
                        ends[tp] = hw
                if len(ends) == len(wanted) or loop.time() >= deadline:
                    break
                fetched = await consumer.getmany(timeout_ms=20)
                for tp in fetched:  # skip what arrived; only the watermark matters
                    if (hw := consumer.highwater(tp)) is not None:
                        consumer.seek(tp, hw)
        finally:
            consumer.pause(*wanted)
        if len(ends) < len(wanted):
            log.warning("log_end_unanswered", partitions=len(wanted) - len(ends))
        return ends

    async def read_starts(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The oldest offset of each partition, from ``ListOffsets(earliest)`` (right on both)."""
        wanted = list(partitions)
        if not wanted:
            return {}
        starts: dict[TopicPartition, int] = await self._consumer.beginning_offsets(wanted)
        return starts


async def log_end_offsets(
    bootstrap: str, partitions: Sequence[TopicPartition], *, wait_seconds: float = 5.0
) -> dict[TopicPartition, int]:
    """The log end (high watermark) of each partition, read from a fetch response.

    On Tansu ``end_offsets`` (``ListOffsets(latest)``) answers the last batch's base offset + 1;
    the high watermark a fetch reports is right on both brokers. A one-shot
    :class:`LogEndReader`; a partition that did not answer within ``wait_seconds`` raises
    ``TimeoutError`` rather than falling back to the wrong answer.
    """
    reader = LogEndReader(bootstrap, timeout=wait_seconds)
    await reader.start()
    try:
        ends = await reader.read(partitions)
    finally:
        await reader.stop()
    missing = [tp for tp in partitions if tp not in ends]
    if missing:
        raise TimeoutError(f"no high watermark within {wait_seconds}s for {missing}")
    return ends
