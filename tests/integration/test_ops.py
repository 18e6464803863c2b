"""The ops service against the real embedded broker and a real PostgreSQL.

A consumer group that commits and exits while its topic keeps growing must turn ERR (STALL on the
embedded broker, which keeps a departed member listed; STOP on Kafka, where it leaves) within the
Burrow window, and return to OK with zero lag once it catches up; the log ends it reports must be
the true ones even after multi-record batches (the embedded broker's ``ListOffsets(latest)`` is
wrong there). ``/metrics`` of a running ``frontdoor worker ops`` must carry the conventional names
with the values the broker and the database hold — scraped with the scrape token, as Prometheus
does, and the SLA API read with a manager's key (``test_ops_auth.py`` proves the door itself).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from services.cli.lag import from_ops_service
from services.common.embedded import free_port
from services.common.kafka import ensure_topics, log_end_offsets, new_producer
from services.common.settings import Endpoints
from services.ops.adapters.kafka_lag import KafkaLagSource
from services.ops.domain.access import OpsRole
from services.ops.domain.burrow import GroupStatus, PartitionStatus
from services.ops.domain.lag import GroupLag, LagBoard, LagReport
from services.ops.handlers import LagPoller
from tests.conftest import Workers, wait_until
from tests.integration.test_ops_auth import SCRAPE_TOKEN, bearer, issue_ops_key

pytestmark = pytest.mark.integration


async def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    """Send records in multi-record batches (linger), wait for every acknowledgement."""
    producer = new_producer(bootstrap, linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, f"r{i}".encode(), partition=p)
            for p, n in per_partition.items()
            for i in range(n)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def commit_and_exit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """A raw aiokafka group member: joins, reads, commits ``offsets`` and exits."""
    consumer = AIOKafkaConsumer(
        *{tp.topic for tp in offsets},
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        rebalance_timeout_ms=2000,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=3000)
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def catch_up(bootstrap: str, group: str, partitions: list[TopicPartition]) -> None:
    """The group's consumer comes back, reads to the true log end and commits it."""
    ends = await log_end_offsets(bootstrap, partitions)
    consumer = AIOKafkaConsumer(
        *{tp.topic for tp in partitions},
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        rebalance_timeout_ms=2000,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            await consumer.getmany(timeout_ms=500)
            if consumer.assignment() == set(partitions):
                positions = [await consumer.position(tp) for tp in partitions]
                if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                    break
        await consumer.commit()
    finally:
        await consumer.stop()


def group_of(report: LagReport, group: str) -> GroupLag | None:
    return next((g for g in report.groups if g.group == group), None)


async def test_log_ends_are_the_true_ones_after_multi_record_batches(endpoints: Endpoints):
    topic = f"ops-ends-{uuid.uuid4().hex[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, 3)])
    await produce(endpoints.bootstrap_servers, topic, {0: 57, 1: 3})
    tps = [TopicPartition(topic, p) for p in range(3)]
    assert await log_end_offsets(endpoints.bootstrap_servers, tps) == dict(
        zip(tps, [57, 3, 0], strict=True)
    )


async def test_stalled_consumer_turns_err_within_the_window_and_recovers_on_catch_up(
    endpoints: Endpoints,
):
    bootstrap = endpoints.bootstrap_servers
    topic, group = f"ops-stall-{uuid.uuid4().hex[:8]}", f"ops-stalled-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [(topic, 2)])
    await produce(bootstrap, topic, {0: 40, 1: 40})
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    await commit_and_exit(bootstrap, group, {tps[0]: 10, tps[1]: 25})

    window = 5
    source = KafkaLagSource(bootstrap, clock=lambda: datetime.now(UTC))
    poller = LagPoller(source, board=LagBoard(window_size=window), interval=0.3)
    await source.start()
    try:
        produced = {0: 40, 1: 40}
        verdicts: list[GroupLag] = []
        for _ in range(window + 3):  # the log keeps growing; the group never commits again
            await produce(bootstrap, topic, {0: 3, 1: 2})
            produced[0] += 3
            produced[1] += 2
            report = await poller.poll_once()
            found = group_of(report, group)
            assert found is not None
            verdicts.append(found)
            if found.status is GroupStatus.ERR:
                break
            await asyncio.sleep(0.3)
        stalled = verdicts[-1]
        assert stalled.status is GroupStatus.ERR, [v.status for v in verdicts]
        assert stalled.worst in (PartitionStatus.STALL, PartitionStatus.STOP)
        by_partition = {p.partition: p for p in stalled.partitions}
        assert (by_partition[0].committed, by_partition[0].log_end) == (10, produced[0])
        assert by_partition[0].lag == produced[0] - 10
        assert by_partition[1].lag == produced[1] - 25
        assert stalled.lag_sum == produced[0] - 10 + produced[1] - 25
        assert by_partition[0].lag_seconds is not None
        assert by_partition[0].lag_seconds > 0

        await catch_up(bootstrap, group, tps)

        async def recovered() -> GroupLag | None:
            found = group_of(await poller.poll_once(), group)
            return (
                found if found and found.status is GroupStatus.OK and found.lag_sum == 0 else None
            )

        caught_up = await wait_until(recovered, timeout=30, interval=0.3)
        assert isinstance(caught_up, GroupLag)
        assert all(p.lag == 0 and p.lag_seconds == 0.0 for p in caught_up.partitions)
        assert all(p.status is PartitionStatus.OK for p in caught_up.partitions)
    finally:
        await source.stop()


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def insert_timers(dsn: str, kind: str) -> None:
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        for status in ("open", "open", "breached"):
            due = now + timedelta(days=3) if status == "open" else now - timedelta(hours=2)
            await conn.execute(
                """INSERT INTO sla_timers (timer_id, child_id, kind, policy, subject_ref,
                                           started_at, due_at, status, breached_at, team)
                   VALUES ($1, $2, $3, 'wt2018', $4, $5, $6, $7, $8, 'Ops Test Team')""",
                uuid.uuid4(),
                f"ops-child-{uuid.uuid4().hex[:6]}",
                kind,
                f"ref-{uuid.uuid4().hex[:6]}",
                due - timedelta(days=5),
                due,
                status,
                now - timedelta(hours=1) if status == "breached" else None,
            )
    finally:
        await conn.close()


async def insert_deadletters(dsn: str, reason: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for i in range(count):
            await conn.execute(
                """INSERT INTO deadletters (dlq_partition, dlq_offset, reason, exception_class,
                       exception_message, original_topic, original_partition, original_offset,
                       consumer_group, failed_at, record_headers)
                   VALUES (0, $1, $2, 'ValueError', 'bad', 'partner.events', 0, $1,
                           $3, now(), '[]'::jsonb)""",
                i,
                reason,
                f"ops-test-{uuid.uuid4().hex[:8]}",
            )
    finally:
        await conn.close()


async def test_metrics_carry_the_conventional_names_with_the_true_values(
    endpoints: Endpoints, workers: Workers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    bootstrap = endpoints.bootstrap_servers
    topic, group = f"ops-metrics-{uuid.uuid4().hex[:8]}", f"ops-metrics-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [(topic, 2)])
    await produce(bootstrap, topic, {0: 30, 1: 12})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): 18})
    finally:
        await consumer.stop()
    kind = f"ops_test_{uuid.uuid4().hex[:6]}"
    await insert_timers(endpoints.database_url, kind)

    port = free_port()
    workers.start(
        "ops",
        FRONTDOOR_OPS_PORT=str(port),
        FRONTDOOR_OPS_POLL_INTERVAL_SECONDS="0.5",
        FRONTDOOR_METRICS_TOKEN=SCRAPE_TOKEN,
    )
    url = f"http://127.0.0.1:{port}"
    manager = await issue_ops_key(endpoints.database_url, OpsRole.MANAGER, "test_ops")

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(f"{url}/metrics", headers=bearer(SCRAPE_TOKEN))
                response.raise_for_status()
        except httpx.HTTPError:
            return None
        values = metric_values(response.text)
        key = (
            "kafka_consumergroup_lag",
            (("consumergroup", group), ("partition", "0"), ("topic", topic)),
        )
        return (
            values
            if key in values and ("frontdoor_sla_open", (("kind", kind),)) in values
            else None
        )

    values = await wait_until(scrape, timeout=60, interval=0.5)
    assert isinstance(values, dict)
    # kafka_exporter's label for the group (issue 14); no second `group` spelling
    assert not [key for key in values if any(label == "group" for label, _ in key[1])]

    def gtp(p: int) -> tuple[tuple[str, str], ...]:
        return (("consumergroup", group), ("partition", str(p)), ("topic", topic))

    def tp(p: int) -> tuple[tuple[str, str], ...]:
        return (("partition", str(p)), ("topic", topic))

    assert values[("kafka_consumergroup_current_offset", gtp(0))] == 18
    assert values[("kafka_consumergroup_lag", gtp(0))] == 12
    assert values[("kafka_consumergroup_current_offset", gtp(1))] == -1
    assert values[("kafka_consumergroup_lag", gtp(1))] == -1
    assert values[("kafka_consumergroup_lag_sum", (("consumergroup", group),))] == 12
    assert values[("kafka_consumergroup_max_lag", (("consumergroup", group),))] == 12
    assert values[("kafka_consumergroup_members", (("consumergroup", group),))] == 0
    assert values[("kafka_topic_partition_current_offset", tp(0))] == 30
    assert values[("kafka_topic_partition_current_offset", tp(1))] == 12
    assert values[("kafka_topic_partition_oldest_offset", tp(0))] == 0
    assert values[("frontdoor_sla_open", (("kind", kind),))] == 2
    assert values[("frontdoor_sla_overdue", (("kind", kind),))] == 1
    assert values[("frontdoor_sla_breached_total", (("kind", kind),))] == 1

    async def lag_seconds_known() -> float | None:
        current = await scrape()
        return current.get(("kafka_consumergroup_lag_seconds", gtp(0))) if current else None

    assert await wait_until(lag_seconds_known, timeout=20, interval=0.5)

    reason = "processing"
    before = values.get(("frontdoor_deadletter_total", (("reason", reason),)), 0.0)
    await insert_deadletters(endpoints.database_url, reason, 2)

    async def dead_counted() -> bool:
        current = await scrape()
        return (
            bool(current)
            and current.get(  # type: ignore[union-attr]
                ("frontdoor_deadletter_total", (("reason", reason),))
            )
            == before + 2
        )

    assert await wait_until(dead_counted, timeout=20, interval=0.5)

    async with httpx.AsyncClient(timeout=2) as client:
        health = await client.get(f"{url}/healthz")
        sla = (await client.get(f"{url}/api/sla", headers=bearer(manager))).json()
    assert health.status_code == 200
    line = next(x for x in sla["board"]["by_kind"] if x["name"] == kind)
    assert (line["counts"]["open"], line["counts"]["overdue"]) == (2, 1)

    # `frontdoor lag` asks this service with the local ops key (env, else dev's state file)
    monkeypatch.setenv("FRONTDOOR_DATA_DIR", str(tmp_path / "no-stack"))
    monkeypatch.delenv("FRONTDOOR_OPS_KEY", raising=False)
    assert await asyncio.to_thread(from_ops_service, endpoints, url) is None  # 401: no key
    monkeypatch.setenv(
        "FRONTDOOR_OPS_KEY", await issue_ops_key(endpoints.database_url, OpsRole.OPS, "cli")
    )
    doc = await asyncio.to_thread(from_ops_service, endpoints, url)
    assert doc is not None
    assert doc["source"] == "ops-service"
    assert any(g["group"] == group for g in doc["groups"])
