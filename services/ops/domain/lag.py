"""The lag board: from one poll's raw offsets to the lag report the dashboard and /metrics show.

`observe(board, observation)` is the whole use case, pure. An `Observation` is what one poll read
from the broker: every partition's log end (the fetch high watermark) and oldest offset, and per
consumer group its state, member count and committed offsets. The `LagBoard` carries what the
evaluators need between polls — a `ProduceTimeline` per partition (time lag), a `CommitWindow` per
group and partition (Burrow status) and recent log-end snapshots (throughput) — and `observe`
returns the next board with a `LagReport`.

A group's partitions are every partition of each topic on which it has committed at least once;
a partition of such a topic without a commit shows lag −1 (the exporter convention). A partition
whose log end did not answer this poll keeps its history and is reported with its last log end.

When is a commit recorded in the Burrow window? The broker tells us the committed offset, not
when it was committed. A changed offset is a new commit. An unchanged offset counts as a repeated
commit while the group has members (a live consumer keeps committing where it is, as Kafka
clients do; stuck on a record, it shows STALL); a group without members records nothing, so the
time since its last commit grows past the window span and the partition shows STOP.

Which partition verdicts make the group's status: STOP and REWIND always; STALL and WARN only once
the partition's window is full. Every partition shows its own verdict, but "the same offset twice"
or "lag did not fall between two polls" is what any busy consumer looks like for a few seconds
while it works through other partitions first; over a full window (20 s at the default poll) it is
a finding. A stopped group reaches STOP whatever its window holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.ops.domain.burrow import (
    DEFAULT_WINDOW,
    Commit,
    CommitWindow,
    GroupStatus,
    PartitionStatus,
    group_status,
    partition_status,
    worst,
)
from services.ops.domain.throughput import EndSnapshot, TopicRate, rates, trim
from services.ops.domain.timelag import DEFAULT_POINTS, OffsetSample, ProduceTimeline, lag_seconds

TopicPartitionKey = tuple[str, int]
NO_COMMIT = -1
_ALWAYS_COUNTS = frozenset({PartitionStatus.STOP, PartitionStatus.REWIND})


class GroupObservation(BaseModel):
    """One consumer group as one poll saw it; ``committed`` is −1 where it never committed."""

    model_config = ConfigDict(frozen=True)

    group: str
    state: str = ""
    members: int = Field(default=0, ge=0)
    committed: Mapping[TopicPartitionKey, int]


class Observation(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    log_ends: Mapping[TopicPartitionKey, int]
    log_starts: Mapping[TopicPartitionKey, int] = {}
    groups: tuple[GroupObservation, ...] = ()


class PartitionLag(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    committed: int
    log_end: int
    lag: int
    lag_seconds: float | None
    extrapolated: bool = False
    status: PartitionStatus | None = None
    window: int = 0


class GroupLag(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    state: str
    members: int
    status: GroupStatus
    worst: PartitionStatus
    lag_sum: int
    max_lag: int
    max_lag_seconds: float | None
    complete: float
    partitions: tuple[PartitionLag, ...]


class PartitionOffsets(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    log_end: int
    oldest: int | None


class LagReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    groups: tuple[GroupLag, ...] = ()
    partitions: tuple[PartitionOffsets, ...] = ()
    throughput: tuple[TopicRate, ...] = ()


class LagBoard(BaseModel):
    model_config = ConfigDict(frozen=True)

    window_size: int = Field(default=DEFAULT_WINDOW, ge=1)
    timeline_points: int = Field(default=DEFAULT_POINTS, ge=2)
    throughput_window: timedelta = timedelta(seconds=10)
    timelines: Mapping[TopicPartitionKey, ProduceTimeline] = {}
    windows: Mapping[tuple[str, str, int], CommitWindow] = {}
    history: tuple[EndSnapshot, ...] = ()


def _group_partitions(
    committed: Mapping[TopicPartitionKey, int], known: Mapping[TopicPartitionKey, object]
) -> list[TopicPartitionKey]:
    topics = {topic for (topic, _), offset in committed.items() if offset >= 0}
    return sorted(tp for tp in known if tp[0] in topics)


def _observe_group(
    board: LagBoard,
    group: GroupObservation,
    timelines: Mapping[TopicPartitionKey, ProduceTimeline],
    windows: dict[tuple[str, str, int], CommitWindow],
    at: AwareDatetime,
) -> GroupLag:
    partitions: list[PartitionLag] = []
    for tp in _group_partitions(group.committed, timelines):
        newest = timelines[tp].newest
        if newest is None:
            continue
        end = newest.offset
        committed = group.committed.get(tp, NO_COMMIT)
        if committed < 0:
            partitions.append(
                PartitionLag(
                    topic=tp[0],
                    partition=tp[1],
                    committed=NO_COMMIT,
                    log_end=end,
                    lag=NO_COMMIT,
                    lag_seconds=None,
                )
            )
            continue
        lag = max(0, end - committed)
        key = (group.group, *tp)
        window = board.windows.get(key) or CommitWindow(size=board.window_size)
        last = window.last
        if last is None or last.offset != committed or group.members > 0:
            window = window.add(Commit(offset=committed, at=at, lag=lag))
        windows[key] = window
        seconds = lag_seconds(timelines[tp], committed, now=at)
        partitions.append(
            PartitionLag(
                topic=tp[0],
                partition=tp[1],
                committed=committed,
                log_end=end,
                lag=lag,
                lag_seconds=None if seconds is None else seconds.seconds,
                extrapolated=seconds is not None and seconds.extrapolated,
                status=partition_status(window, current_lag=lag, now=at),
                window=len(window.commits),
            )
        )
    statuses = [
        p.status
        for p in partitions
        if p.status is not None and (p.status in _ALWAYS_COUNTS or p.window >= board.window_size)
    ]
    known_seconds = [p.lag_seconds for p in partitions if p.lag_seconds is not None]
    lags = [p.lag for p in partitions if p.lag >= 0]
    fullness = [
        windows[(group.group, p.topic, p.partition)].complete for p in partitions if p.lag >= 0
    ]
    return GroupLag(
        group=group.group,
        state=group.state,
        members=group.members,
        status=group_status(statuses),
        worst=worst(statuses),
        lag_sum=sum(lags),
        max_lag=max(lags, default=0),
        max_lag_seconds=max(known_seconds, default=None),
        complete=min(fullness, default=0.0),
        partitions=tuple(partitions),
    )


def observe(board: LagBoard, observation: Observation) -> tuple[LagBoard, LagReport]:
    """Fold one poll into the board; return the next board and the report for this moment."""
    at = observation.at
    timelines: dict[TopicPartitionKey, ProduceTimeline] = {}
    for tp, end in observation.log_ends.items():
        previous = board.timelines.get(tp) or ProduceTimeline(limit=board.timeline_points)
        timelines[tp] = previous.add(OffsetSample(offset=end, at=at))
    for group in observation.groups:  # asked about but unanswered this time: keep the history
        for tp in group.committed:
            if tp not in timelines and tp in board.timelines:
                timelines[tp] = board.timelines[tp]
    windows: dict[tuple[str, str, int], CommitWindow] = {}
    groups = tuple(
        _observe_group(board, g, timelines, windows, at)
        for g in sorted(observation.groups, key=lambda g: g.group)
    )
    ends_by_topic: dict[str, dict[int, int]] = {}
    for (topic, partition), end in observation.log_ends.items():
        ends_by_topic.setdefault(topic, {})[partition] = end
    history = trim(
        (*board.history, EndSnapshot(at=at, ends=ends_by_topic)),
        keep=board.throughput_window,
        now=at,
    )
    next_board = LagBoard(
        window_size=board.window_size,
        timeline_points=board.timeline_points,
        throughput_window=board.throughput_window,
        timelines=timelines,
        windows=windows,
        history=history,
    )
    report = LagReport(
        at=at,
        groups=groups,
        partitions=tuple(
            PartitionOffsets(
                topic=topic,
                partition=partition,
                log_end=end,
                oldest=observation.log_starts.get((topic, partition)),
            )
            for (topic, partition), end in sorted(observation.log_ends.items())
        ),
        throughput=tuple(rates(history, window=board.throughput_window)),
    )
    return next_board, report
