"""The lag history on the real ops app (``build_api``) over the real broker and PostgreSQL.

A consumer group that committed part of its topic is written to ``ops_lag_history`` by the lag
poller every round, ``GET /api/history`` (behind the ops key) gives its lag line and the topic's
throughput line, and the retention loop deletes the samples older than the window while keeping
those inside it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition

from services.common.db import create_pool
from services.common.kafka import ensure_topics
from services.common.settings import Endpoints
from services.ops.adapters.postgres import PostgresOpsStore
from services.ops.domain.access import OpsRole
from tests.conftest import wait_until
from tests.integration.test_ops import commit_and_exit, produce
from tests.integration.test_ops_auth import bearer, issue_ops_key, ops_app

pytestmark = pytest.mark.integration

INSERT_SQL = """
INSERT INTO ops_lag_history (sampled_at, consumer_group, topic, lag, lag_seconds,
                             records_per_second)
VALUES ($1, $2, $3, $4, NULL, 0)
"""


async def rows_of(database_url: str, group: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT * FROM ops_lag_history WHERE consumer_group = $1 ORDER BY sampled_at", group
        )
    finally:
        await conn.close()
    return rows


async def test_the_poller_keeps_lag_in_postgresql_the_api_draws_it_and_old_samples_go(
    endpoints: Endpoints,
) -> None:
    bootstrap = endpoints.bootstrap_servers
    topic, group = f"ops-hist-{uuid.uuid4().hex[:8]}", f"ops-hist-{uuid.uuid4().hex[:8]}"
    old_group = f"ops-hist-old-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [(topic, 1)])
    await produce(bootstrap, topic, {0: 30})
    await commit_and_exit(bootstrap, group, {TopicPartition(topic, 0): 10})

    now = datetime.now(UTC)
    conn = await asyncpg.connect(endpoints.database_url)
    try:  # one sample past the 48-hour window, one just inside it
        await conn.execute(INSERT_SQL, now - timedelta(hours=100), old_group, topic, 5)
        await conn.execute(INSERT_SQL, now - timedelta(hours=47), old_group, topic, 7)
    finally:
        await conn.close()
    key = await issue_ops_key(endpoints.database_url, OpsRole.OPS, "history test")

    async with ops_app(endpoints, history_hours=48, history_prune_seconds=0.2) as (_, client):
        assert (await client.get("/api/history")).status_code == 401  # behind the door

        async def drawn() -> dict[str, Any] | None:
            doc: dict[str, Any] = (
                await client.get("/api/history", params={"hours": 0.25}, headers=bearer(key))
            ).json()
            mine = [g for g in doc["groups"] if g["group"] == group]
            if not mine or not any(p["lag"] == 20 for p in mine[0]["points"]):
                return None
            return doc if any(t["topic"] == topic for t in doc["topics"]) else None

        doc = await wait_until(drawn, timeout=60, interval=0.5)
        assert isinstance(doc, dict)
        assert (doc["hours"], doc["kept_hours"], doc["bucket_seconds"]) == (0.25, 48, 5)
        assert doc["error"] is None
        (line,) = [g for g in doc["groups"] if g["group"] == group]
        assert line["topics"] == [topic]

        async def several_rounds() -> list[asyncpg.Record] | None:
            rows = await rows_of(endpoints.database_url, group)
            return rows if len(rows) >= 3 else None

        rows = await wait_until(several_rounds, timeout=30, interval=0.5)
        assert isinstance(rows, list)
        assert {(r["topic"], r["lag"]) for r in rows} == {(topic, 20)}
        assert len({r["sampled_at"] for r in rows}) == len(rows)  # one row a round

        async def pruned() -> list[asyncpg.Record] | None:
            kept = await rows_of(endpoints.database_url, old_group)
            return kept if len(kept) == 1 else None

        kept = await wait_until(pruned, timeout=30, interval=0.5)
        assert isinstance(kept, list)
        assert kept[0]["lag"] == 7  # the sample inside the window stays
        whole = (await client.get("/api/history", headers=bearer(key))).json()
        (old_line,) = [g for g in whole["groups"] if g["group"] == old_group]
        assert [p["lag"] for p in old_line["points"]] == [7]
        assert whole["hours"] == 48
        asked_too_much = await client.get(
            "/api/history", params={"hours": 1000}, headers=bearer(key)
        )
        assert asked_too_much.json()["hours"] == 48  # at most what is kept


async def test_breach_announcement_delays_are_read_from_the_sla_timers(
    endpoints: Endpoints,
) -> None:
    """What ``frontdoor_sla_breach_announce_delay_seconds`` and ``…_unannounced_seconds`` (the
    'breach announced late' alerts) are made of, on the SLA service's real table."""
    late, owed = f"late_{uuid.uuid4().hex[:8]}", f"owed_{uuid.uuid4().hex[:8]}"
    insert = """
        INSERT INTO sla_timers (timer_id, child_id, kind, policy, subject_ref, started_at,
                                due_at, status, breached_at, recorded_at)
        VALUES ($1, 'child-1', $2, 'wt2013', 'ref', now() - interval '10 days',
                now() - $3::interval, $4, $5, now() - interval '9 days')
    """
    conn = await asyncpg.connect(endpoints.database_url)
    try:  # a breach recorded 2 minutes after its deadline; a deadline 3 minutes gone, no breach
        await conn.execute(
            insert, uuid.uuid4(), late, timedelta(minutes=3), "breached",
            datetime.now(UTC) - timedelta(minutes=1),
        )  # fmt: skip
        await conn.execute(insert, uuid.uuid4(), owed, timedelta(minutes=3), "open", None)
        # an old breach (a day ago) is outside the window and counts for nothing
        await conn.execute(
            insert, uuid.uuid4(), late, timedelta(days=2), "breached",
            datetime.now(UTC) - timedelta(days=1),
        )  # fmt: skip
    finally:
        await conn.close()
    pool = await create_pool(endpoints.database_url, max_size=1)
    try:
        totals = await PostgresOpsStore(pool).sla_totals()
    finally:
        await pool.close()
    assert totals.announce_delay[late] == pytest.approx(120, abs=5)
    assert late not in totals.unannounced
    assert totals.unannounced[owed] == pytest.approx(180, abs=5)
    assert owed not in totals.announce_delay
    assert totals.open[owed] == 1
