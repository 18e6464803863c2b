"""The SLA board's totals, the dead-letter panel, and the event-to-view latency ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain.boards import (
    DeadLetter,
    ReasonCount,
    SlaCounts,
    SlaRow,
    deadletter_panel,
    sla_board,
)
from services.ops.domain.latency import PublishLedger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def row(team: str, kind: str, **counts: int) -> SlaRow:
    return SlaRow(team=team, kind=kind, counts=SlaCounts(**counts))


def test_sla_board_adds_rows_up_by_kind_by_team_and_overall():
    board = sla_board(
        [
            row("MASH", "screening_decision", open=5, due_today=2, overdue=1),
            row("MASH", "assessment", open=3, breached_this_month=2),
            row("North", "assessment", open=4, overdue=2, met_in_time_this_month=7),
        ],
        at=T0,
    )
    kinds = {line.name: line.counts for line in board.by_kind}
    teams = {line.name: line.counts for line in board.by_team}
    assert kinds["assessment"] == SlaCounts(
        open=7, overdue=2, breached_this_month=2, met_in_time_this_month=7
    )
    assert teams["MASH"] == SlaCounts(open=8, due_today=2, overdue=1, breached_this_month=2)
    assert board.total == SlaCounts(
        open=12, due_today=2, overdue=3, breached_this_month=2, met_in_time_this_month=7
    )


def test_sla_board_lists_the_most_overdue_first_then_the_most_due_today():
    board = sla_board(
        [
            row("A", "k1", open=50),
            row("B", "k2", due_today=4),
            row("C", "k3", overdue=1),
            row("D", "k4", due_today=9),
        ],
        at=T0,
    )
    assert [line.name for line in board.by_team] == ["C", "D", "B", "A"]


def test_due_today_rows_for_the_same_team_and_kind_merge():
    board = sla_board([row("A", "k", open=2), row("A", "k", due_today=1)], at=T0)
    assert board.rows == (row("A", "k", open=2, due_today=1),)


def test_empty_board_has_zero_totals():
    board = sla_board([], at=T0)
    assert board.total == SlaCounts()
    assert board.by_kind == ()


def letter(i: int) -> DeadLetter:
    return DeadLetter(
        id=i,
        failed_at=T0,
        reason="validation",
        exception_class="ValueError",
        exception_message="bad",
        original_topic="partner.events",
        original_partition=0,
        original_offset=i,
        consumer_group="frontdoor-intake",
        replayed=False,
    )


def test_deadletter_panel_totals_and_orders_reasons_by_count():
    panel = deadletter_panel(
        [
            ReasonCount(reason="processing", total=1, waiting=1),
            ReasonCount(reason="validation", total=7, waiting=3),
            ReasonCount(reason="deserialization", total=2, waiting=0),
        ],
        [letter(9), letter(8)],
        at=T0,
    )
    assert [r.reason for r in panel.by_reason] == ["validation", "deserialization", "processing"]
    assert (panel.total, panel.waiting) == (10, 4)
    assert [d.id for d in panel.newest] == [9, 8]


def test_latency_is_recorded_minus_published_and_settled_ids_leave_the_ledger():
    ledger = PublishLedger()
    a, b = uuid.uuid4(), uuid.uuid4()
    ledger.published(a, T0)
    ledger.published(b, T0 + timedelta(seconds=1))
    latencies = ledger.settle({a: T0 + timedelta(milliseconds=250)})
    assert latencies == [pytest.approx(0.25)]
    assert ledger.waiting() == [b]


def test_first_publish_of_an_id_wins():
    ledger = PublishLedger()
    a = uuid.uuid4()
    ledger.published(a, T0)
    ledger.published(a, T0 + timedelta(seconds=5))
    assert ledger.settle({a: T0 + timedelta(seconds=6)}) == [pytest.approx(6.0)]


def test_clock_skew_never_gives_a_negative_latency():
    ledger = PublishLedger()
    a = uuid.uuid4()
    ledger.published(a, T0)
    assert ledger.settle({a: T0 - timedelta(seconds=1)}) == [0.0]


def test_ids_recorded_but_never_seen_published_are_ignored():
    ledger = PublishLedger()
    assert ledger.settle({uuid.uuid4(): T0}) == []


def test_unmatched_publishes_expire_and_are_counted_as_dropped():
    ledger = PublishLedger(expire_after=timedelta(minutes=5))
    old, new = uuid.uuid4(), uuid.uuid4()
    ledger.published(old, T0)
    ledger.published(new, T0 + timedelta(minutes=4))
    assert ledger.expire(T0 + timedelta(minutes=6)) == 1
    assert ledger.waiting() == [new]
    assert ledger.dropped == 1


def test_ledger_keeps_at_most_its_capacity_dropping_the_oldest():
    ledger = PublishLedger(capacity=3)
    ids = [uuid.uuid4() for _ in range(5)]
    for i, event_id in enumerate(ids):
        ledger.published(event_id, T0 + timedelta(seconds=i))
    assert ledger.waiting() == ids[2:]
    assert ledger.dropped == 2
    assert ledger.waiting(limit=2) == ids[2:4]
