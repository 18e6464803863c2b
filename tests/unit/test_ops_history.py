"""The lag history's rules, pure and over an in-memory store: what a poll round keeps, how long,
how a long window becomes a chart of a few hundred points, and ``/api/history``'s answer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.history import (
    MAX_POINTS,
    TOPIC_ONLY,
    HistoryBucket,
    HistorySample,
    HistoryWindow,
    bucket_seconds,
    history_series,
    samples,
)
from services.ops.domain.lag import LagBoard, LagReport, observe
from services.ops.handlers import LagHistory, LagPoller, StoreUnavailableError
from tests.unit.test_ops_api import FakeSource, observation, serving
from tests.unit.test_ops_api import build as build_app

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class MemoryHistory:
    """The history port in memory, with the same rules as the PostgreSQL adapter."""

    def __init__(self) -> None:
        self.rows: dict[tuple[datetime, str, str], HistorySample] = {}
        self.writes = 0
        self.down = False

    async def record(self, samples: Sequence[HistorySample]) -> None:
        if self.down:
            raise StoreUnavailableError("ConnectionRefusedError: database away")
        self.writes += 1
        for s in samples:
            self.rows.setdefault((s.at, s.consumer_group, s.topic), s)

    async def buckets(
        self, since: datetime, until: datetime, *, bucket_seconds: int
    ) -> list[HistoryBucket]:
        width = timedelta(seconds=bucket_seconds)
        epoch = datetime(2000, 1, 3, tzinfo=UTC)
        grouped: dict[tuple[datetime, str, str], list[HistorySample]] = {}
        for (at, group, topic), s in self.rows.items():
            if since <= at <= until:
                start = epoch + width * ((at - epoch) // width)
                grouped.setdefault((start, group, topic), []).append(s)
        out = []
        for (at, group, topic), rows in sorted(grouped.items()):
            lags = [r.lag for r in rows if r.lag is not None]
            seconds = [r.lag_seconds for r in rows if r.lag_seconds is not None]
            rates = [r.records_per_second for r in rows if r.records_per_second is not None]
            out.append(
                HistoryBucket(
                    at=at,
                    consumer_group=group,
                    topic=topic,
                    lag=max(lags, default=None),
                    lag_seconds=max(seconds, default=None),
                    records_per_second=sum(rates) / len(rates) if rates else None,
                )
            )
        return out

    async def prune(self, before: datetime, *, limit: int) -> int:
        old = [k for k in self.rows if k[0] < before][:limit]
        for k in old:
            del self.rows[k]
        return len(old)


def report_after(*polls: tuple[float, int, dict[int, int]]) -> LagReport:
    board = LagBoard()
    report = None
    for seconds, end, committed in polls:
        board, report = observe(board, observation(seconds, end, committed))
    assert report is not None
    return report


def test_a_round_keeps_each_groups_lag_per_topic_and_the_topics_throughput() -> None:
    report = report_after((0, 100, {0: 100}), (2, 140, {0: 120}))
    (row,) = samples(report)
    assert (row.consumer_group, row.topic) == ("frontdoor-screening", "frontdoor.contacts")
    assert row.lag == 20  # partition 0: 140 - 120; partition 1 has no commit and adds nothing
    assert row.records_per_second == pytest.approx(20.0)  # 40 records in 2 s
    assert row.lag_seconds is not None
    assert row.at == report.at


def test_a_group_without_any_commit_on_a_topic_has_no_lag_rather_than_zero() -> None:
    report = report_after((0, 100, {}), (2, 140, {1: 4}))
    (row,) = samples(report)
    assert row.lag == 6  # only partition 1 committed (log end 10, committed 4)
    _, report = observe(LagBoard(), observation(0, 100, {1: -1}))
    (row,) = samples(report)  # never committed on the topic: no lag row, the topic's rate only
    assert (row.consumer_group, row.lag, row.records_per_second) == (TOPIC_ONLY, None, 0.0)


def test_topics_no_group_reads_keep_their_throughput_and_empty_topics_are_left_out() -> None:
    report = report_after((0, 100, {0: 100}), (2, 140, {0: 120}))
    quiet = report.model_copy(
        update={
            "groups": (),
            "throughput": (
                *report.throughput,
                report.throughput[0].model_copy(update={"topic": "never.used", "log_end_total": 0}),
            ),
        }
    )
    rows = samples(quiet)
    assert [(r.consumer_group, r.topic, r.lag) for r in rows] == [
        (TOPIC_ONLY, "frontdoor.contacts", None)
    ]
    assert rows[0].records_per_second == pytest.approx(20.0)


def test_retention_cuts_at_the_window_and_a_request_gets_at_most_what_is_kept() -> None:
    window = HistoryWindow(keep_hours=48)
    assert window.cutoff(T0) == T0 - timedelta(hours=48)
    assert window.hours(None) == 48
    assert window.hours(6) == 6
    assert window.hours(500) == 48
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="positive"):
            window.hours(bad)


def test_a_long_window_is_drawn_in_round_buckets_of_at_most_360_points() -> None:
    assert bucket_seconds(1, at_least=2) == 10  # 3600 / 360
    assert bucket_seconds(0.25, at_least=2) == 5
    assert bucket_seconds(72, at_least=2) == 900
    assert bucket_seconds(0.01, at_least=2) == 2  # never narrower than a poll
    for hours in (0.1, 1, 6, 24, 48, 72, 24 * 31):
        width = bucket_seconds(hours, at_least=2)
        assert hours * 3600 / width <= MAX_POINTS
        assert 86400 % width == 0 or width % 3600 == 0  # falls on whole minutes/hours


def test_the_chart_has_one_lag_line_per_group_summed_over_topics_and_one_rate_line_per_topic() -> (
    None
):
    a, b = T0, T0 + timedelta(seconds=10)
    buckets = [
        HistoryBucket(at=a, consumer_group="sla", topic="t1", lag=5, records_per_second=2.0),
        HistoryBucket(at=a, consumer_group="sla", topic="t2", lag=7, lag_seconds=3.0),
        HistoryBucket(at=a, consumer_group="intake", topic="t1", lag=None, records_per_second=2.0),
        HistoryBucket(at=b, consumer_group="sla", topic="t1", lag=1, records_per_second=4.0),
        HistoryBucket(at=b, consumer_group=TOPIC_ONLY, topic="t3", records_per_second=9.0),
    ]
    groups, topics = history_series(buckets)
    assert [g.group for g in groups] == ["intake", "sla"]
    intake, sla = groups
    assert [(p.lag, p.lag_seconds) for p in intake.points] == [(None, None)]
    assert [(p.at, p.lag, p.lag_seconds) for p in sla.points] == [(a, 12, 3.0), (b, 1, None)]
    assert sla.topics == ("t1", "t2")
    assert {t.topic: [p.records_per_second for p in t.points] for t in topics} == {
        "t1": [2.0, 4.0],
        "t3": [9.0],
    }


async def test_the_poller_writes_one_batch_a_round_and_a_failed_write_never_fails_the_poll() -> (
    None
):
    store = MemoryHistory()
    poller = LagPoller(
        FakeSource([observation(0, 100, {0: 100}), observation(2, 140, {0: 120})]),
        board=LagBoard(),
        interval=2.0,
        history=store,
    )
    await poller.poll_once()
    assert (store.writes, len(store.rows)) == (1, 1)
    store.down = True
    report = await poller.poll_once()
    assert poller.report is report
    assert poller.last_error is None
    assert poller.history_error is not None
    assert "database away" in poller.history_error


async def test_pruning_deletes_what_is_past_the_window_in_bounded_chunks() -> None:
    store = MemoryHistory()
    now = T0 + timedelta(hours=50)
    await store.record(
        [
            HistorySample(at=T0 + timedelta(minutes=i), consumer_group="g", topic="t", lag=i)
            for i in range(0, 50 * 60, 10)
        ]
    )
    kept_before = sum(1 for k in store.rows if k[0] >= now - timedelta(hours=48))
    history = LagHistory(
        store,
        window=HistoryWindow(keep_hours=48),
        clock=lambda: now,
        poll_interval=2,
        chunk=3,
        chunks_per_round=4,
    )
    assert await history.prune_once() == 12  # 4 chunks of 3, then the round ends
    while await history.prune_once():
        pass
    assert len(store.rows) == kept_before > 0
    assert min(k[0] for k in store.rows) >= now - timedelta(hours=48)


async def test_a_read_is_answered_in_buckets_and_reused_within_a_poll_interval() -> None:
    store = MemoryHistory()
    clock = [T0]
    for i in range(120):
        at = T0 - timedelta(seconds=2 * i)
        await store.record([HistorySample(at=at, consumer_group="g", topic="t", lag=i)])
    history = LagHistory(
        store, window=HistoryWindow(keep_hours=48), clock=lambda: clock[0], poll_interval=2
    )
    report = await history.read(0.25)
    assert (report.hours, report.kept_hours, report.bucket_seconds) == (0.25, 48, 5)
    (group,) = report.groups
    assert 0 < len(group.points) <= MAX_POINTS
    assert len(group.points) < 120  # two-second samples folded into five-second buckets
    assert report.since == T0 - timedelta(minutes=15)
    await store.record([HistorySample(at=T0, consumer_group="new", topic="t", lag=1)])
    assert await history.read(0.25) is report  # within the poll interval: the same answer
    clock[0] = T0 + timedelta(seconds=3)
    assert [g.group for g in (await history.read(0.25)).groups] == ["g", "new"]


async def test_history_api_without_a_store_says_so_and_refuses_a_bad_hours() -> None:
    async with serving(build_app(polls=1, refresh=True)) as client:
        answer = (await client.get("/api/history")).json()
        assert answer["groups"] == []
        assert "no lag history" in answer["error"]
        for bad in ("0", "-2", "nan", "inf", "soon"):
            response = await client.get("/api/history", params={"hours": bad})
            assert response.status_code == 422, bad
