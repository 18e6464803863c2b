"""Catch-up on the real broker: what the broker no longer holds is found from its oldest record."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.common.kafka import ensure_topics, new_producer
from services.common.runtime import oldest_timestamps
from services.common.settings import Endpoints

pytestmark = pytest.mark.integration


async def test_oldest_timestamp_is_the_first_records_own_and_none_when_empty(
    endpoints: Endpoints,
) -> None:
    topic = f"test.catchup.{uuid.uuid4().hex[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, 2)])
    producer = new_producer(endpoints.bootstrap_servers)
    await producer.start()
    now_ms = int(time.time() * 1000)
    try:
        for age in (60, 50, 40):
            await producer.send_and_wait(
                topic, b"v", key=b"k", partition=0, timestamp_ms=now_ms - age * 1000
            )
    finally:
        await producer.stop()
    found = await oldest_timestamps(endpoints.bootstrap_servers, topic, [0, 1])
    expected = datetime.fromtimestamp((now_ms - 60_000) / 1000, UTC)
    assert found[0] is not None
    assert abs(found[0] - expected) < timedelta(milliseconds=5)
    assert found[1] is None
