"""Publishing a JSON-lines file of partner events to ``partner.events``.

Each line is published as it is — bytes untouched, so a malformed line reaches intake and its
dead-letter topic exactly as a partner would have sent it. The key is the child's id when the
line is a JSON object that names one, else no key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from schemas.topics import PARTNER_EVENTS
from services.common.kafka import new_producer


def key_of(line: bytes) -> bytes | None:
    try:
        data = orjson.loads(line)
        child_id = data["subject"]["child_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return str(child_id).encode() if child_id is not None else None


def read_lines(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        return [line.rstrip(b"\r\n") for line in f if line.strip()]


async def publish_lines(
    bootstrap: str,
    lines: Iterable[bytes],
    *,
    topic: str = PARTNER_EVENTS.name,
    on_progress: Callable[[int], None] | None = None,
    window: int = 2000,
) -> int:
    """Publish every line; wait for every acknowledgement. Returns the count published."""
    producer = new_producer(bootstrap, linger_ms=5)
    await producer.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for line in lines:
            pending.append(await producer.send(topic, line, key=key_of(line)))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                sent += len(pending)
                if on_progress:
                    on_progress(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        sent += len(pending)
        if on_progress:
            on_progress(len(pending))
    finally:
        await producer.stop()
    return sent
