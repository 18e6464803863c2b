"""Throughput per topic: how fast the log ends move, from successive polls.

Each poll yields an `EndSnapshot` (every partition's log end at one moment). The rate of a topic
between two snapshots is the sum over its partitions of how far each log end moved, divided by the
seconds between them. A partition whose log end went down (a topic recreated after a restart of the
in-memory broker) or that is missing from the older snapshot counts as not having moved, so a
restart never shows as negative or absurd traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EndSnapshot(BaseModel):
    """Log end per topic and partition at ``at``."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    ends: Mapping[str, Mapping[int, int]]


class TopicRate(BaseModel):
    """Records per second appended to ``topic`` over the last ``window_seconds``."""

    model_config = ConfigDict(frozen=True)

    topic: str
    records_per_second: float = Field(ge=0)
    window_seconds: float = Field(ge=0)
    log_end_total: int = Field(ge=0)


def _moved(older: Mapping[int, int], newer: Mapping[int, int]) -> int:
    return sum(max(0, end - older[p]) for p, end in newer.items() if p in older)


def rates(history: Sequence[EndSnapshot], *, window: timedelta) -> list[TopicRate]:
    """Per-topic rates from the newest snapshot back to the oldest one within ``window``.

    With one snapshot (or none within the window) every rate is 0 over 0 seconds.
    """
    if not history:
        return []
    newest = history[-1]
    older = next((s for s in history if newest.at - s.at <= window), newest)
    seconds = (newest.at - older.at).total_seconds()
    result = []
    for topic in sorted(newest.ends):
        ends = newest.ends[topic]
        moved = _moved(older.ends.get(topic, {}), ends) if seconds > 0 else 0
        result.append(
            TopicRate(
                topic=topic,
                records_per_second=moved / seconds if seconds > 0 else 0.0,
                window_seconds=seconds,
                log_end_total=sum(ends.values()),
            )
        )
    return result


def trim(
    history: Sequence[EndSnapshot], *, keep: timedelta, now: datetime
) -> tuple[EndSnapshot, ...]:
    """The snapshots not older than ``keep`` (the newest is always kept)."""
    kept = tuple(s for s in history if now - s.at <= keep)
    return kept or tuple(history[-1:])
