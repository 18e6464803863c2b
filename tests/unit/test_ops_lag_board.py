"""The lag board: raw offsets from successive polls folded into lag, time lag, status, throughput."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.burrow import GroupStatus, PartitionStatus
from services.ops.domain.lag import GroupObservation, LagBoard, LagReport, Observation, observe
from services.ops.domain.throughput import EndSnapshot, rates

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPIC = "frontdoor.contacts"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def poll(
    board: LagBoard,
    seconds: float,
    ends: dict[int, int],
    committed: dict[int, int],
    *,
    members: int = 1,
    group: str = "frontdoor-screening",
) -> tuple[LagBoard, LagReport]:
    return observe(
        board,
        Observation(
            at=at(seconds),
            log_ends={(TOPIC, p): e for p, e in ends.items()},
            log_starts={(TOPIC, p): 0 for p in ends},
            groups=(
                GroupObservation(
                    group=group,
                    state="Stable" if members else "Empty",
                    members=members,
                    committed={(TOPIC, p): committed.get(p, -1) for p in ends},
                ),
            ),
        ),
    )


def test_lag_is_log_end_minus_committed_and_minus_one_without_a_commit():
    _, report = poll(LagBoard(), 0, {0: 120, 1: 40}, {0: 100})
    (group,) = report.groups
    by_partition = {p.partition: p for p in group.partitions}
    assert by_partition[0].lag == 20
    assert by_partition[1].lag == -1
    assert by_partition[1].status is None
    assert group.lag_sum == 20
    assert group.max_lag == 20


def test_group_on_no_committed_topic_has_no_partitions():
    _, report = poll(LagBoard(), 0, {0: 10}, {})
    assert report.groups[0].partitions == ()
    assert report.groups[0].status is GroupStatus.OK


def test_time_lag_comes_from_the_produce_timeline():
    board = LagBoard()
    board, _ = poll(board, 0, {0: 0}, {0: 0})
    board, _ = poll(board, 10, {0: 100}, {0: 0})
    board, report = poll(board, 20, {0: 200}, {0: 100})
    (p,) = report.groups[0].partitions
    assert p.lag == 100
    assert p.lag_seconds == pytest.approx(10.0)  # record 100 was produced at 10 s
    assert report.groups[0].max_lag_seconds == pytest.approx(10.0)


def test_group_that_stops_committing_while_the_log_grows_turns_err():
    board = LagBoard(window_size=10)
    board, _ = poll(board, 0, {0: 50}, {0: 40}, members=1)
    statuses = []
    for i in range(1, 6):
        board, report = poll(board, 2 * i, {0: 50 + 10 * i}, {0: 40}, members=0)
        statuses.append(report.groups[0].partitions[0].status)
    assert statuses[-1] is PartitionStatus.STOP
    assert report.groups[0].status is GroupStatus.ERR


def test_live_group_stuck_on_one_offset_is_stall_and_err_once_the_window_is_full():
    board = LagBoard(window_size=10)
    for i in range(10):
        board, report = poll(board, 2 * i, {0: 50 + 10 * i}, {0: 40}, members=1)
    assert report.groups[0].partitions[0].status is PartitionStatus.STALL
    assert report.groups[0].worst is PartitionStatus.STALL
    assert report.groups[0].status is GroupStatus.ERR


def test_stall_on_a_part_filled_window_shows_on_the_partition_but_not_the_group():
    board = LagBoard(window_size=10)
    for i in range(3):
        board, report = poll(board, 2 * i, {0: 50 + 10 * i}, {0: 40}, members=1)
    (group,) = report.groups
    assert group.partitions[0].status is PartitionStatus.STALL
    assert group.partitions[0].window == 3
    assert group.status is GroupStatus.OK


def test_stop_counts_for_the_group_whatever_the_window_holds():
    board, _ = poll(LagBoard(window_size=10), 0, {0: 50}, {0: 40}, members=0)
    board, report = poll(board, 2, {0: 60}, {0: 40}, members=0)
    assert report.groups[0].partitions[0].window == 1
    assert report.groups[0].status is GroupStatus.ERR
    assert report.groups[0].worst is PartitionStatus.STOP


def test_group_that_catches_up_returns_to_ok_with_zero_lag():
    board = LagBoard()
    for i in range(4):
        board, _ = poll(board, 2 * i, {0: 50 + 10 * i}, {0: 40}, members=0)
    board, report = poll(board, 10, {0: 90}, {0: 90}, members=1)
    (p,) = report.groups[0].partitions
    assert (p.lag, p.lag_seconds, p.status) == (0, 0.0, PartitionStatus.OK)
    assert report.groups[0].status is GroupStatus.OK


def test_partition_without_a_log_end_this_poll_keeps_its_history():
    board = LagBoard()
    board, _ = poll(board, 0, {0: 10}, {0: 5})
    board, report = observe(
        board,
        Observation(
            at=at(2),
            log_ends={},
            groups=(GroupObservation(group="g", members=1, committed={(TOPIC, 0): 6}),),
        ),
    )
    (p,) = report.groups[0].partitions
    assert (p.log_end, p.lag) == (10, 4)
    assert board.timelines[(TOPIC, 0)].newest.offset == 10  # type: ignore[union-attr]


def test_throughput_is_log_end_growth_per_second_over_the_window():
    board = LagBoard(throughput_window=timedelta(seconds=10))
    board, _ = poll(board, 0, {0: 0, 1: 0}, {})
    board, _ = poll(board, 5, {0: 30, 1: 20}, {})
    board, report = poll(board, 10, {0: 60, 1: 40}, {})
    (rate,) = report.throughput
    assert rate.records_per_second == pytest.approx(10.0)
    assert rate.log_end_total == 100


def test_partition_recreated_empty_counts_no_negative_traffic():
    history = [
        EndSnapshot(at=at(0), ends={TOPIC: {0: 500, 1: 10}}),
        EndSnapshot(at=at(4), ends={TOPIC: {0: 2, 1: 30}}),
    ]
    (rate,) = rates(history, window=timedelta(seconds=10))
    assert rate.records_per_second == pytest.approx(5.0)


def test_snapshots_older_than_the_window_are_dropped():
    board = LagBoard(throughput_window=timedelta(seconds=10))
    for i in range(10):
        board, _ = poll(board, 3 * i, {0: i}, {})
    assert all(at(27) - s.at <= timedelta(seconds=10) for s in board.history)


def test_groups_no_longer_listed_leave_no_state_behind():
    board, _ = poll(LagBoard(), 0, {0: 10}, {0: 5}, group="old")
    board, _ = poll(board, 2, {0: 10}, {0: 5}, group="new")
    assert {key[0] for key in board.windows} == {"new"}
