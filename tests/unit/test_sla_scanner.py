"""The breach scanner with an injected clock: never early, once per clock, leader only, on time.

The fake store follows the PostgreSQL adapter's contract: only open clocks are owed, a breach only
strictly after ``due_at``, a settled clock leaves ``open`` in the same step as its outbox row is
written, and outbox rows are deleted only after the publisher returned. Time is a variable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.envelope import EventBase
from schemas.registry import parse_event
from services.common.calendar import WorkingCalendar
from services.common.publishing import OutRecord, RecordingPublisher
from services.sla import announcements
from services.sla.announcements import OutboxEntry
from services.sla.domain.timers import Timer, TimerStatus, breach, start_timer, warn
from services.sla.policies import load_policy
from services.sla.scanner import DueTimer, Publish, Scanner, Settle

DUE = datetime(2025, 3, 5, 23, 59, 59, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeScanStore:
    timers: dict[UUID, Timer] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    outbox: dict[UUID, OutboxEntry] = field(default_factory=dict)
    held: set[UUID] = field(default_factory=set)  # rows a lifecycle batch has locked
    recorded: dict[UUID, datetime] = field(default_factory=dict)

    def add(self, timer: Timer, recorded_at: datetime = LONG_AGO) -> Timer:
        self.timers[timer.timer_id] = timer
        self.recorded[timer.timer_id] = recorded_at
        return timer

    async def settle_due(
        self, now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> int:
        free = [t for t in self.timers.values() if t.timer_id not in self.held]
        due = sorted(
            (
                t
                for t in free
                if t.status is TimerStatus.OPEN
                and t.due_at < now
                and (
                    self.recorded[t.timer_id] < t.due_at
                    or self.recorded[t.timer_id] <= recorded_before
                )
            ),
            key=lambda t: t.due_at,
        )[:limit]
        warn = sorted(
            (
                t
                for t in free
                if t.status is TimerStatus.OPEN
                and t.warned_at is None
                and t.warn_at is not None
                and t.warn_at <= now <= t.due_at
            ),
            key=lambda t: t.warn_at or now,
        )[:limit]
        settled = settle([DueTimer(t, self.teams.get(t.child_id)) for t in [*due, *warn]])
        for s in settled:
            self.timers[s.timer.timer_id] = s.timer
            self.outbox.setdefault(s.entry.event_id, s.entry)
        return len(settled)

    async def relay_outbox(self, now: datetime, limit: int, publish: Publish) -> int:
        ready = [e for e in self.outbox.values() if e.available_at <= now][:limit]
        if not ready:
            return 0
        await publish([e.record for e in ready])
        for e in ready:
            del self.outbox[e.event_id]
        return len(ready)

    async def next_moment(self, grace: timedelta) -> datetime | None:
        open_ = [t for t in self.timers.values() if t.status is TimerStatus.OPEN]
        moments = [t.due_at for t in open_ if self.recorded[t.timer_id] < t.due_at]
        moments += [
            self.recorded[t.timer_id] + grace
            for t in open_
            if self.recorded[t.timer_id] >= t.due_at
        ]
        moments += [
            t.warn_at
            for t in self.timers.values()
            if t.status is TimerStatus.OPEN and t.warned_at is None and t.warn_at is not None
        ]
        moments += [e.available_at for e in self.outbox.values()]
        return min(moments, default=None)


@dataclass
class FakeLeadership:
    leader: bool = True
    waits: list[float] = field(default_factory=list)
    stop_after: int | None = None
    closed: bool = False

    async def hold(self) -> bool:
        return self.leader

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            raise asyncio.CancelledError

    async def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2030)


def screening_timer(cal: WorkingCalendar, child: str = "C1") -> Timer:
    """A screening clock started Tuesday 4 March 2025 10:30: due Wednesday 23:59:59 GMT,
    warned (one working day before) at Tuesday 23:59:59."""
    return start_timer(
        load_policy("wt2013"),
        "screening_decision",
        child_id=child,
        subject_ref=str(uuid4()),
        started_at=datetime(2025, 3, 4, 10, 30, tzinfo=UTC),
        calendar=cal,
    )


def bare_timer(due: datetime, child: str = "C1") -> Timer:
    return Timer(
        timer_id=uuid4(),
        child_id=child,
        kind="screening_decision",
        policy="wt2013",
        subject_ref=str(uuid4()),
        started_at=due - timedelta(hours=1),
        due_at=due,
    )


@dataclass
class Rig:
    store: FakeScanStore
    leadership: FakeLeadership
    publisher: RecordingPublisher
    clock: Clock
    scanner: Scanner

    def announced(self, event_type: str) -> list[dict[str, Any]]:
        out = [orjson.loads(r.value or b"") for r in self.publisher.records]
        return [e for e in out if e["event_type"] == event_type]


def make_rig(now: datetime, store: FakeScanStore | None = None, batch: int = 1000) -> Rig:
    store = store or FakeScanStore()
    leadership, publisher, clock = FakeLeadership(), RecordingPublisher(), Clock(now)
    scanner = Scanner(
        store=store,
        leadership=leadership,
        publisher=publisher,
        clock=clock,
        batch=batch,
        max_sleep=1.0,
        leader_poll=1.0,
    )
    return Rig(store, leadership, publisher, clock, scanner)


# -- never early, exactly once ---------------------------------------------------------------------


async def test_no_breach_at_the_deadline_itself_only_strictly_after_it() -> None:
    rig = make_rig(DUE)
    timer = rig.store.add(bare_timer(DUE))

    await rig.scanner.step()
    assert rig.announced("sla.breached") == []
    assert rig.store.timers[timer.timer_id].status is TimerStatus.OPEN

    rig.clock.now = DUE + TICK
    await rig.scanner.step()
    (breach,) = rig.announced("sla.breached")
    assert breach["event_id"] == str(uuid5(timer.timer_id, "breached"))
    event = parse_event(breach)
    assert event.payload.breached_at > event.payload.due_at  # type: ignore[attr-defined]
    assert event.payload.breached_at == DUE + TICK  # type: ignore[attr-defined]
    assert rig.store.timers[timer.timer_id].status is TimerStatus.BREACHED


async def test_each_breach_is_announced_once_however_often_the_scanner_runs() -> None:
    rig = make_rig(DUE + timedelta(seconds=1))
    for _ in range(3):
        rig.store.add(bare_timer(DUE))

    for step in range(5):
        rig.clock.now += timedelta(seconds=step)
        await rig.scanner.step()

    ids = [e["event_id"] for e in rig.announced("sla.breached")]
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert not rig.store.outbox


async def test_two_scanners_on_one_store_announce_each_breach_once() -> None:
    store = FakeScanStore()
    for _ in range(50):
        store.add(bare_timer(DUE))
    first = make_rig(DUE + timedelta(seconds=1), store, batch=7)
    second = make_rig(DUE + timedelta(seconds=1), store, batch=5)  # a stale leader

    await asyncio.gather(first.scanner.scan_once(), second.scanner.scan_once())

    ids = [e["event_id"] for rig in (first, second) for e in rig.announced("sla.breached")]
    assert len(ids) == 50
    assert len(set(ids)) == 50


async def test_a_relay_that_dies_after_publishing_republishes_the_same_event_id() -> None:
    rig = make_rig(DUE + timedelta(seconds=1))
    rig.store.add(bare_timer(DUE))

    class AckLost(RecordingPublisher):
        failed = False

        async def publish(self, records: Sequence[OutRecord]) -> None:
            await super().publish(records)
            if not self.failed:
                self.failed = True
                raise ConnectionError("acknowledgement lost")

    rig.scanner.publisher = rig.publisher = AckLost()
    with pytest.raises(ConnectionError):
        await rig.scanner.scan_once()
    await rig.scanner.scan_once()

    ids = [e["event_id"] for e in rig.announced("sla.breached")]
    assert len(ids) == 2
    assert len(set(ids)) == 1
    assert not rig.store.outbox


async def test_clock_held_by_a_lifecycle_batch_is_breached_after_the_batch_lets_go() -> None:
    rig = make_rig(DUE + timedelta(seconds=1))
    timer = rig.store.add(bare_timer(DUE))
    rig.store.held.add(timer.timer_id)

    wait = await rig.scanner.step()
    assert rig.announced("sla.breached") == []
    assert wait < 0.1  # something is owed: look again soon

    rig.store.held.clear()
    await rig.scanner.step()
    assert len(rig.announced("sla.breached")) == 1


async def test_clock_recorded_already_overdue_is_breached_only_after_the_grace() -> None:
    recorded = DUE + timedelta(days=20)  # a replayed start, long after its deadline
    rig = make_rig(recorded + timedelta(milliseconds=500))
    timer = rig.store.add(bare_timer(DUE), recorded_at=recorded)

    wait = await rig.scanner.step()
    assert rig.announced("sla.breached") == []
    assert wait == 1.0  # the grace ends in 2.5 s; never sleep longer than max_sleep

    rig.clock.now = recorded + timedelta(seconds=3, microseconds=1)
    await rig.scanner.step()
    (breach,) = rig.announced("sla.breached")
    assert breach["payload"]["timer_id"] == str(timer.timer_id)


async def test_the_grace_never_delays_a_clock_recorded_before_its_deadline() -> None:
    rig = make_rig(DUE - timedelta(milliseconds=400))
    rig.store.add(bare_timer(DUE), recorded_at=DUE - timedelta(milliseconds=500))

    wait = await rig.scanner.step()
    assert 0.4 < wait < 0.41

    rig.clock.now = DUE + TICK
    await rig.scanner.step()
    assert len(rig.announced("sla.breached")) == 1


# -- warnings --------------------------------------------------------------------------------------


async def test_warning_when_one_working_day_remains_then_the_breach(cal: WorkingCalendar) -> None:
    timer = screening_timer(cal)
    assert timer.warn_at == datetime(2025, 3, 4, 23, 59, 59, tzinfo=UTC)
    rig = make_rig(datetime(2025, 3, 4, 23, 59, 58, tzinfo=UTC))
    rig.store.teams["C1"] = "MASH"
    rig.store.add(timer)

    await rig.scanner.step()
    assert rig.announced("sla.warning") == []

    rig.clock.now = datetime(2025, 3, 5, 0, 0, 0, tzinfo=UTC)
    await rig.scanner.step()
    (warning,) = rig.announced("sla.warning")
    assert warning["payload"]["team"] == "MASH"
    parse_event(warning)

    rig.clock.now = datetime(2025, 3, 6, 0, 0, 0, tzinfo=UTC)
    await rig.scanner.step()
    assert len(rig.announced("sla.warning")) == 1
    assert len(rig.announced("sla.breached")) == 1


async def test_clock_found_already_overdue_gets_the_breach_not_a_late_warning(
    cal: WorkingCalendar,
) -> None:
    rig = make_rig(datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    rig.store.add(screening_timer(cal))

    await rig.scanner.step()

    assert rig.announced("sla.warning") == []
    assert len(rig.announced("sla.breached")) == 1


# -- leadership and sleeping -----------------------------------------------------------------------


async def test_a_replica_that_is_not_the_leader_scans_nothing() -> None:
    rig = make_rig(DUE + timedelta(seconds=5))
    timer = rig.store.add(bare_timer(DUE))
    rig.leadership.leader = False

    wait = await rig.scanner.step()

    assert wait == 1.0
    assert rig.publisher.records == []
    assert rig.store.timers[timer.timer_id].status is TimerStatus.OPEN


async def test_sleeps_until_just_after_the_next_deadline() -> None:
    rig = make_rig(DUE - timedelta(milliseconds=300))
    rig.store.add(bare_timer(DUE))

    wait = await rig.scanner.step()

    assert 0.3 < wait < 0.31


async def test_sleep_is_capped_so_a_new_clock_is_never_missed_for_long() -> None:
    rig = make_rig(DUE - timedelta(hours=3))
    rig.store.add(bare_timer(DUE))
    assert await rig.scanner.step() == 1.0

    empty = make_rig(DUE)
    assert await empty.scanner.step() == 1.0


async def test_a_failing_round_is_logged_and_the_loop_carries_on() -> None:
    rig = make_rig(DUE + timedelta(seconds=1))
    rig.store.add(bare_timer(DUE))
    calls = 0
    real = rig.store.settle_due

    async def flaky(now: datetime, limit: int, settle: Settle, *, recorded_before: datetime) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database restarting")
        return await real(now, limit, settle, recorded_before=recorded_before)

    rig.store.settle_due = flaky  # type: ignore[method-assign]
    rig.leadership.stop_after = 3

    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await rig.scanner.run()

    assert any(e["event"] == "sla_scan_failed" for e in logs)
    assert len(rig.announced("sla.breached")) == 1
    assert rig.leadership.closed


# -- the scanner's announcements -------------------------------------------------------------------


class DriverUuid(UUID):
    """A UUID subclass, like the one the PostgreSQL driver returns."""


@pytest.mark.parametrize("transition", ["warning", "breached"])
def test_scanner_announcement_is_the_contract_event_field_for_field(
    cal: WorkingCalendar, transition: str
) -> None:
    timer = screening_timer(cal)
    timer = timer.model_copy(update={"timer_id": DriverUuid(str(timer.timer_id))})
    model: EventBase
    if transition == "warning":
        after = warn(timer, datetime(2025, 3, 5, 9, 0, tzinfo=UTC))
        model = announcements.warning(after, team="MASH")
    else:
        after = breach(timer, datetime(2025, 3, 6, 0, 0, 0, 1, tzinfo=UTC))
        model = announcements.breached(after, team="MASH")

    entry = announcements.scanner_entry(after, team="MASH")

    assert parse_event(orjson.loads(entry.record.value or b"")) == model
    assert entry.event_id == model.event_id == uuid5(timer.timer_id, transition)
    assert entry.record.key == b"C1"
    assert entry.record.headers == [("event_type", f"sla.{transition}".encode())]
    assert entry.available_at == model.occurred_at
