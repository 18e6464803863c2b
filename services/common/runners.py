"""The plain aiokafka runner: ``getmany`` batches into the pipeline, commit after it returned.

At-least-once: the next offsets are committed only after ``Pipeline.process`` returned, i.e.
after the batch's view changes, claims and outbox rows committed in PostgreSQL. A failed commit
after a rebalance is logged and the batch is simply delivered again to the partition's new owner,
where the claims make it a no-op. Before reading a newly assigned partition, and every
``catchup_interval`` seconds, the runner catches the partition up from PostgreSQL
(``catchup.py``). The fetch wait is short because the embedded broker answers a waiting fetch
only when the wait expires (REFERENCE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, RebalanceInProgressError
from aiokafka.structs import OffsetAndMetadata

from services.common.deadletter import Origin
from services.common.health import beat
from services.common.kafka import security_kwargs
from services.common.pipeline import Pipeline, Subscription

if TYPE_CHECKING:
    from services.common.runtime import Resources

log = structlog.get_logger(__name__)

CATCHUP_INTERVAL = float(os.environ.get("FRONTDOOR_CATCHUP_INTERVAL", "30"))


def origin_of(record: Any) -> Origin:
    headers = record.headers or ()
    return Origin(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple((str(k), bytes(v) if v is not None else b"") for k, v in headers),
    )


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.pending: set[TopicPartition] = set()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.pending.update(assigned)


def new_consumer(sub: Subscription, bootstrap: str) -> AIOKafkaConsumer:
    rebalance_ms = int(float(os.environ.get("FRONTDOOR_REBALANCE_TIMEOUT", "3")) * 1000)
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=sub.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        rebalance_timeout_ms=rebalance_ms,
        max_poll_records=sub.max_batch,
        fetch_max_bytes=16 * 1024 * 1024,
        fetch_max_wait_ms=int(os.environ.get("FRONTDOOR_FETCH_MAX_WAIT_MS", "50")),
        **security_kwargs(),
    )


def by_group(subs: Sequence[Subscription]) -> list[list[Subscription]]:
    """The subscriptions that share a consumer group, in declaration order: one consumer reads
    all their topics (intake's shared topic and every agency lane are one group)."""
    groups: dict[str, list[Subscription]] = {}
    for sub in subs:
        groups.setdefault(sub.group, []).append(sub)
    for members in groups.values():
        topics = [m.topic for m in members]
        if len(set(topics)) != len(topics):
            raise ValueError(f"group {members[0].group} subscribes to a topic twice: {topics}")
    return list(groups.values())


async def consume(
    members: Sequence[Subscription], resources: Resources, stop: asyncio.Event
) -> None:
    """Run the subscriptions of one consumer group (one consumer, every topic) until ``stop``."""
    from services.common.runtime import make_catchup

    first = members[0]
    consumer = new_consumer(first, resources.endpoints.bootstrap_servers)
    listener = _Assigned()
    consumer.subscribe([m.topic for m in members], listener=listener)
    await consumer.start()
    topics = [m.topic for m in members]
    log.info("consumer_started", topics=topics, group=first.group, consumer=first.consumer)
    loop = asyncio.get_running_loop()
    try:
        async with contextlib.AsyncExitStack() as stack:
            pipelines: dict[str, Pipeline] = {}
            catchups = {}
            for sub in members:
                handler = await stack.enter_async_context(sub.handler(resources))
                pipelines[sub.topic] = Pipeline(sub, handler, resources.ledger, resources.relay)
                catchups[sub.topic] = make_catchup(sub, pipelines[sub.topic], resources)
            next_sweep = loop.time() + CATCHUP_INTERVAL
            while not stop.is_set():
                if loop.time() >= next_sweep:
                    listener.pending.update(consumer.assignment())
                    next_sweep = loop.time() + CATCHUP_INTERVAL
                if listener.pending:
                    wanted, listener.pending = listener.pending & consumer.assignment(), set()
                    for topic, catchup in catchups.items():
                        parts = {tp.partition for tp in wanted if tp.topic == topic}
                        if parts:
                            await catchup.run(parts)
                batches = await consumer.getmany(timeout_ms=50, max_records=first.max_batch)
                beat()
                if not any(batches.values()):
                    continue
                for topic, pipeline in pipelines.items():
                    records = [r for tp, rs in batches.items() if tp.topic == topic for r in rs]
                    if records:
                        await pipeline.process([origin_of(r) for r in records])
                await _commit(consumer, batches)
    finally:
        await consumer.stop()
        log.info("consumer_stopped", topics=topics, group=first.group)


async def _commit(consumer: AIOKafkaConsumer, batches: dict[TopicPartition, Sequence[Any]]) -> None:
    offsets = {tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in batches.items() if rs}
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
        # the partitions moved: their new owner is given these records again (claims: no-op)
        log.warning("commit_failed_after_rebalance", error_class=type(exc).__name__)
