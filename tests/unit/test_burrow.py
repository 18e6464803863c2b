"""Burrow's consumer status rules, one test per rule and per precedence between rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.burrow import (
    Commit,
    CommitWindow,
    GroupStatus,
    PartitionStatus,
    group_status,
    partition_status,
    worst,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def window(*commits: tuple[int, int], step: float = 2.0, size: int = 10) -> CommitWindow:
    """A window of (offset, lag) commits, ``step`` seconds apart from T0."""
    w = CommitWindow(size=size)
    for i, (offset, lag) in enumerate(commits):
        w = w.add(Commit(offset=offset, at=T0 + timedelta(seconds=i * step), lag=lag))
    return w


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_current_lag_zero_is_ok_whatever_the_window_says():
    rewound = window((50, 5), (40, 15), (40, 15))
    assert partition_status(rewound, current_lag=0, now=at(100)) is PartitionStatus.OK


def test_any_zero_lag_in_the_window_is_ok():
    w = window((10, 3), (12, 0), (12, 4), (12, 9))
    assert partition_status(w, current_lag=9, now=at(100)) is PartitionStatus.OK


def test_offset_going_backwards_is_rewind():
    w = window((10, 5), (20, 5), (15, 10), (25, 6))
    assert partition_status(w, current_lag=6, now=at(6)) is PartitionStatus.REWIND


def test_rewind_wins_over_stop():
    w = window((10, 5), (8, 7))
    assert partition_status(w, current_lag=7, now=at(1000)) is PartitionStatus.REWIND


def test_no_commit_for_longer_than_the_window_spans_is_stop():
    w = window((10, 5), (20, 5), (30, 5), step=2.0)  # spans 4 s, last commit at 4 s
    assert partition_status(w, current_lag=5, now=at(8.5)) is PartitionStatus.STOP


def test_silence_exactly_as_long_as_the_window_span_is_not_yet_stop():
    w = window((10, 9), (20, 5), (30, 3), step=2.0)  # spans 4 s
    assert partition_status(w, current_lag=3, now=at(8)) is PartitionStatus.OK


def test_single_commit_followed_by_silence_is_stop():
    w = window((10, 5))
    assert partition_status(w, current_lag=5, now=at(2)) is PartitionStatus.STOP


def test_stop_wins_over_stall():
    w = window((10, 5), (10, 6), (10, 7))
    assert partition_status(w, current_lag=7, now=at(60)) is PartitionStatus.STOP


def test_same_offset_committed_over_and_over_with_lag_is_stall():
    w = window((10, 5), (10, 6), (10, 8), (10, 8))
    assert partition_status(w, current_lag=8, now=at(6)) is PartitionStatus.STALL


def test_offsets_advancing_while_lag_never_decreases_is_warn():
    w = window((10, 5), (20, 5), (30, 8), (40, 12))
    assert partition_status(w, current_lag=12, now=at(6)) is PartitionStatus.WARN


def test_offsets_advancing_with_lag_falling_somewhere_is_ok():
    w = window((10, 5), (20, 9), (30, 4), (40, 12))
    assert partition_status(w, current_lag=12, now=at(6)) is PartitionStatus.OK


def test_a_partition_without_commits_has_no_status():
    with pytest.raises(ValueError, match="without commits"):
        partition_status(CommitWindow(), current_lag=3, now=T0)


def test_window_keeps_only_the_last_n_commits():
    w = window(*[(i, 1) for i in range(15)], size=10)
    assert [c.offset for c in w.commits] == list(range(5, 15))
    assert w.complete == 1.0


def test_rewind_that_slid_out_of_the_window_no_longer_counts():
    w = window((50, 9), (40, 9), *[(41 + i, 9 - i % 2) for i in range(10)], size=10)
    assert partition_status(w, current_lag=8, now=at(24)) is not PartitionStatus.REWIND


def test_incomplete_window_reports_how_full_it_is():
    assert window((1, 1), (2, 1), (3, 1)).complete == pytest.approx(0.3)


def test_group_status_is_the_worst_partition_with_errors_as_err():
    assert group_status([PartitionStatus.OK, PartitionStatus.WARN]) is GroupStatus.WARN
    for error in (PartitionStatus.STOP, PartitionStatus.STALL, PartitionStatus.REWIND):
        assert group_status([PartitionStatus.OK, PartitionStatus.WARN, error]) is GroupStatus.ERR


def test_group_without_evaluated_partitions_is_ok():
    assert group_status([]) is GroupStatus.OK


def test_worst_follows_burrows_order():
    assert worst([PartitionStatus.STOP, PartitionStatus.REWIND, PartitionStatus.STALL]) is (
        PartitionStatus.REWIND
    )
    assert worst([PartitionStatus.STOP, PartitionStatus.STALL]) is PartitionStatus.STALL
    assert worst([PartitionStatus.WARN, PartitionStatus.STOP]) is PartitionStatus.STOP
