"""Lag and throughput over time: what one poll round keeps, how long it is kept, what a chart gets.

`samples(report)` turns one `LagReport` into history rows: one per consumer group and topic it
reads (the group's lag on that topic in records — the sum over its partitions that have a commit,
``None`` while none has — its largest known time lag, and the topic's throughput), and one per
topic no group reads and that has ever held a record (throughput only, ``consumer_group`` empty).
`HistoryWindow` is the retention (``FRONTDOOR_OPS_HISTORY_HOURS``): a sample older than
``cutoff(now)`` is past it, and a request for more hours than are kept is answered with what is
kept. A chart never gets more than ``MAX_POINTS`` points per line, however long the window:
`bucket_seconds` picks a round bucket width, the database takes each bucket's largest lag and
mean throughput per group and topic (`HistoryBucket`), and `history_series` folds those rows into
one line per consumer group (lag summed over its topics) and one per topic (records per second).
Pure: the clock is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.ops.domain.lag import LagReport, PartitionLag

TOPIC_ONLY = ""
"""The ``consumer_group`` of a row that records a topic's throughput only (no group reads it)."""

MAX_POINTS = 360
"""The most points one line of the chart gets (a bucket each)."""

BUCKET_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
"""Bucket widths in seconds, round ones, so the chart's points fall on whole minutes and hours."""


class HistorySample(BaseModel):
    """One row of the history table: a group's lag on one topic, or a topic's throughput."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    consumer_group: str
    topic: str
    lag: int | None = Field(default=None, ge=0)
    lag_seconds: float | None = Field(default=None, ge=0)
    records_per_second: float | None = Field(default=None, ge=0)


def _by_topic(partitions: Iterable[PartitionLag]) -> dict[str, list[PartitionLag]]:
    found: dict[str, list[PartitionLag]] = {}
    for p in partitions:
        found.setdefault(p.topic, []).append(p)
    return found


def samples(report: LagReport) -> tuple[HistorySample, ...]:
    """The rows one poll round writes (sorted: groups, then topics nobody reads)."""
    rates = {t.topic: t.records_per_second for t in report.throughput}
    rows: list[HistorySample] = []
    read: set[str] = set()
    for group in report.groups:
        for topic, parts in sorted(_by_topic(group.partitions).items()):
            read.add(topic)
            committed = [p for p in parts if p.lag >= 0]
            seconds = [p.lag_seconds for p in committed if p.lag_seconds is not None]
            rows.append(
                HistorySample(
                    at=report.at,
                    consumer_group=group.group,
                    topic=topic,
                    lag=sum(p.lag for p in committed) if committed else None,
                    lag_seconds=max(seconds, default=None),
                    records_per_second=rates.get(topic),
                )
            )
    rows.extend(
        HistorySample(
            at=report.at,
            consumer_group=TOPIC_ONLY,
            topic=t.topic,
            records_per_second=t.records_per_second,
        )
        for t in report.throughput
        if t.topic not in read and t.log_end_total > 0
    )
    return tuple(rows)


class HistoryWindow(BaseModel):
    """How many hours of samples are kept, and so how far back one may ask."""

    model_config = ConfigDict(frozen=True)

    keep_hours: float = Field(default=48.0, gt=0, le=24 * 31)

    def cutoff(self, now: datetime) -> datetime:
        """Samples taken before this are past retention."""
        return now - timedelta(hours=self.keep_hours)

    def hours(self, asked: float | None) -> float:
        """The hours a request is answered with: what it asked for, at most what is kept."""
        if asked is None:
            return self.keep_hours
        if not asked > 0 or math.isinf(asked):  # also refuses NaN
            raise ValueError(f"hours must be a positive number, not {asked!r}")
        return min(asked, self.keep_hours)


def bucket_seconds(hours: float, *, at_least: float = 1.0, max_points: int = MAX_POINTS) -> int:
    """The narrowest round bucket width that keeps a line of ``hours`` within ``max_points``
    points and is not narrower than ``at_least`` seconds (the poll interval: a narrower bucket
    would only hold gaps)."""
    need = max(hours * 3600 / max_points, at_least)
    for step in BUCKET_STEPS:
        if step >= need:
            return step
    return math.ceil(need / BUCKET_STEPS[-1]) * BUCKET_STEPS[-1]


class HistoryBucket(BaseModel):
    """One bucket of one group and topic as the database aggregated it."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    consumer_group: str
    topic: str
    lag: int | None = None
    lag_seconds: float | None = None
    records_per_second: float | None = None


class LagPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    lag: int | None
    """Records behind, summed over the group's topics; ``None`` while it has no commit."""
    lag_seconds: float | None


class RatePoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    records_per_second: float


class GroupSeries(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    topics: tuple[str, ...]
    points: tuple[LagPoint, ...]


class TopicSeries(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    points: tuple[RatePoint, ...]


class LagHistoryReport(BaseModel):
    """What ``GET /api/history`` answers: the lines of the chart over ``since`` … ``until``."""

    model_config = ConfigDict(frozen=True)

    since: AwareDatetime
    until: AwareDatetime
    hours: float
    kept_hours: float
    bucket_seconds: int
    groups: tuple[GroupSeries, ...] = ()
    topics: tuple[TopicSeries, ...] = ()


def _sum(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _max(values: Sequence[float | None]) -> float | None:
    return max((v for v in values if v is not None), default=None)


def history_series(
    buckets: Iterable[HistoryBucket],
) -> tuple[tuple[GroupSeries, ...], tuple[TopicSeries, ...]]:
    """One lag line per consumer group and one throughput line per topic, oldest point first."""
    lags: dict[str, dict[datetime, list[HistoryBucket]]] = {}
    topics_of: dict[str, set[str]] = {}
    rates: dict[str, dict[datetime, list[float]]] = {}
    for b in buckets:
        if b.consumer_group != TOPIC_ONLY:
            lags.setdefault(b.consumer_group, {}).setdefault(b.at, []).append(b)
            topics_of.setdefault(b.consumer_group, set()).add(b.topic)
        if b.records_per_second is not None:
            rates.setdefault(b.topic, {}).setdefault(b.at, []).append(b.records_per_second)
    groups = tuple(
        GroupSeries(
            group=group,
            topics=tuple(sorted(topics_of[group])),
            points=tuple(
                LagPoint(
                    at=at,
                    lag=_sum([r.lag for r in rows]),
                    lag_seconds=_max([r.lag_seconds for r in rows]),
                )
                for at, rows in sorted(by_at.items())
            ),
        )
        for group, by_at in sorted(lags.items())
    )
    topics = tuple(
        TopicSeries(
            topic=topic,
            points=tuple(
                RatePoint(at=at, records_per_second=max(values))
                for at, values in sorted(by_at.items())
            ),
        )
        for topic, by_at in sorted(rates.items())
    )
    return groups, topics
