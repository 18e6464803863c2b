"""Time lag by interpolating produce times from (log end, wall time) samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.timelag import OffsetSample, ProduceTimeline, lag_seconds

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def timeline(*points: tuple[int, float], limit: int = 300) -> ProduceTimeline:
    t = ProduceTimeline(limit=limit)
    for offset, seconds in points:
        t = t.add(OffsetSample(offset=offset, at=at(seconds)))
    return t


def test_caught_up_group_has_zero_seconds_of_lag():
    t = timeline((0, 0), (100, 10))
    lag = lag_seconds(t, 100, now=at(30))
    assert lag is not None
    assert lag.seconds == 0.0


def test_committed_beyond_the_last_sample_counts_as_caught_up():
    assert lag_seconds(timeline((100, 10)), 105, now=at(30)).seconds == 0.0  # type: ignore[union-attr]


def test_offset_between_two_samples_is_interpolated_linearly():
    t = timeline((0, 0), (100, 10), (300, 20))
    # offset 200 was produced half way between 10 s and 20 s
    lag = lag_seconds(t, 200, now=at(25))
    assert lag is not None
    assert lag.seconds == pytest.approx(10.0)
    assert not lag.extrapolated


def test_offset_on_a_sample_takes_that_samples_time():
    t = timeline((0, 0), (100, 10), (300, 20))
    assert lag_seconds(t, 100, now=at(25)).seconds == pytest.approx(15.0)  # type: ignore[union-attr]


def test_offset_below_the_oldest_sample_is_extrapolated_along_the_table():
    t = timeline((100, 10), (200, 20))  # 10 records/s
    lag = lag_seconds(t, 50, now=at(20))
    assert lag is not None
    assert lag.seconds == pytest.approx(15.0)  # produced at 5 s
    assert lag.extrapolated


def test_flat_table_gives_the_oldest_sample_time_as_a_lower_bound():
    t = timeline((100, 10), (100, 20), (100, 30))
    lag = lag_seconds(t, 40, now=at(30))
    assert lag is not None
    assert lag.seconds == pytest.approx(20.0)
    assert lag.extrapolated


def test_a_single_sample_gives_no_estimate_unless_caught_up():
    t = timeline((100, 10))
    assert lag_seconds(t, 40, now=at(30)) is None
    assert lag_seconds(ProduceTimeline(), 0, now=at(30)) is None


def test_lag_is_never_negative():
    t = timeline((0, 0), (100, 10))
    assert lag_seconds(t, 50, now=at(1)).seconds == 0.0  # type: ignore[union-attr]


def test_flat_runs_keep_their_first_and_latest_time_only():
    t = timeline((0, 0), (100, 2), (100, 4), (100, 6), (100, 8), (150, 10))
    assert [(s.offset, (s.at - T0).total_seconds()) for s in t.samples] == [
        (0, 0),
        (100, 2),
        (100, 8),
        (150, 10),
    ]


def test_record_after_a_quiet_spell_is_placed_after_the_quiet_spell():
    # the log end sat at 100 from 2 s to 8 s; record 100 was produced between 8 s and 10 s
    t = timeline((0, 0), (100, 2), (100, 4), (100, 8), (150, 10))
    lag = lag_seconds(t, 100, now=at(10))
    assert lag is not None
    assert lag.seconds == pytest.approx(2.0)


def test_table_keeps_at_most_its_limit_of_samples():
    t = timeline(*[(i * 10, float(i)) for i in range(20)], limit=5)
    assert [s.offset for s in t.samples] == [150, 160, 170, 180, 190]


def test_sample_not_newer_than_the_last_is_ignored():
    t = timeline((0, 0), (100, 10))
    assert t.add(OffsetSample(offset=200, at=at(10))) == t
    assert t.add(OffsetSample(offset=200, at=at(5))) == t


def test_log_end_going_down_starts_a_new_table():
    t = timeline((0, 0), (100, 10)).add(OffsetSample(offset=3, at=at(12)))
    assert [s.offset for s in t.samples] == [3]
