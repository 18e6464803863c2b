"""The handover's default night on PostgreSQL: the latest night with an item or an action."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.common.settings import Endpoints
from services.outofhours.adapters.night import PostgresNightReader

# nights in 2003, which no other test writes: the shared database holds other tests' nights
ACTION_NIGHT = datetime(2003, 3, 3, 17, tzinfo=UTC)
ITEM_NIGHT = datetime(2003, 3, 10, 17, tzinfo=UTC)


@pytest.fixture
async def db(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(endpoints.database_url)
    yield conn
    await conn.close()


async def test_latest_active_night_reads_items_and_actions_up_to_the_owed_night(
    db: asyncpg.Connection,
) -> None:
    child = f"C{uuid.uuid4().hex[:10]}"
    await db.execute(
        "INSERT INTO ooh_actions (event_id, action_id, child_id, action_at, kind, urgency,"
        " urgency_rank, summary, decision_reason, worker, shift_start, shift_end)"
        " VALUES ($1, $2, $3, $4, 'welfare_check', 'routine', 3, 's', 'r', 'EDT01', $5, $6)",
        uuid.uuid4(), uuid.uuid4(), child, ACTION_NIGHT + timedelta(hours=3), ACTION_NIGHT,
        ACTION_NIGHT + timedelta(hours=16),
    )  # fmt: skip
    await db.execute(
        "INSERT INTO ooh_crisis_items (event_id, crisis_id, child_id, reason, urgency,"
        " urgency_rank, explanation, trigger_event_id, trigger_event_type, happened_at,"
        " raised_at, source_system, shift_start, shift_end)"
        " VALUES ($1, $2, $3, 'missing_child', 'today', 2, 'x', $4, 'child.missing_reported',"
        " $5, $5, 'test', $6, $7)",
        uuid.uuid4(), uuid.uuid4(), child, uuid.uuid4(), ITEM_NIGHT + timedelta(hours=2),
        ITEM_NIGHT, ITEM_NIGHT + timedelta(hours=16),
    )  # fmt: skip
    reader = PostgresNightReader(db)
    assert await reader.latest_active_night(ITEM_NIGHT + timedelta(days=3)) == ITEM_NIGHT
    assert await reader.latest_active_night(ITEM_NIGHT) == ITEM_NIGHT
    assert await reader.latest_active_night(ITEM_NIGHT - timedelta(seconds=1)) == ACTION_NIGHT
    assert await reader.latest_active_night(ACTION_NIGHT - timedelta(days=1)) is None
