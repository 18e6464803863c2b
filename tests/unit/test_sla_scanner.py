"""The breach scanner with an injected clock: never early, once per clock, leader only, on time.

The fake store follows the PostgreSQL adapter's contract: only open clocks are owed, a breach only
strictly after ``due_at``, a settled clock leaves ``open`` in the same step as its announcement is
written to the outbox (the in-memory ledger's, which passes the same contract suite as
PostgreSQL's), and a scheduled announcement moves to the outbox once, at its moment. The scanner
relays through the pipeline's real `Relay`, only what those steps committed. Time is a variable.
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
from services.common.ledger import MemoryLedger
from services.common.outbox import OutboxRow, RecordingSender, Relay
from services.sla.domain import announcements
from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.breaches import DueTimer, Settle
from services.sla.domain.timers import Timer, TimerStatus, breach, start_timer, warn
from services.sla.handlers import Scanner
from services.sla.policies import load_policy

DUE = datetime(2025, 3, 5, 23, 59, 59, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def _row(entry: OutboxEntry) -> OutboxRow:
    return OutboxRow.of(entry.record, event_id=entry.event_id, event_type=entry.event_type)


@dataclass
class FakeScanStore:
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    timers: dict[UUID, Timer] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    scheduled: dict[UUID, OutboxEntry] = field(default_factory=dict)
    held: set[UUID] = field(default_factory=set)  # rows a lifecycle batch has locked
    recorded: dict[UUID, datetime] = field(default_factory=dict)
    early: dict[UUID, datetime] = field(default_factory=dict)  # early event → recorded_at
    forgotten_before: list[datetime] = field(default_factory=list)

    def add(self, timer: Timer, recorded_at: datetime = LONG_AGO) -> Timer:
        self.timers[timer.timer_id] = timer
        self.recorded[timer.timer_id] = recorded_at
        return timer

    async def settle_due(
        self, now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> Sequence[OutboxRow]:
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
        async with self.ledger.unit("sla.scanner") as unit:
            for s in settled:
                self.timers[s.timer.timer_id] = s.timer
            return await unit.enqueue([_row(s.entry) for s in settled])

    async def release_scheduled(self, now: datetime, limit: int) -> Sequence[OutboxRow]:
        ready = sorted(
            (e for e in self.scheduled.values() if e.available_at <= now),
            key=lambda e: (e.available_at, e.event_id),
        )[:limit]
        async with self.ledger.unit("sla.scanner") as unit:
            for e in ready:
                del self.scheduled[e.event_id]
            return await unit.enqueue([_row(e) for e in ready])

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
        moments += [e.available_at for e in self.scheduled.values()]
        return min(moments, default=None)

    async def forget_early_events(self, recorded_before: datetime, limit: int) -> int:
        self.forgotten_before.append(recorded_before)
        old = [e for e, at in self.early.items() if at < recorded_before][:limit]
        for e in old:
            del self.early[e]
        return len(old)

    def unrelayed(self) -> int:
        return sum(1 for s in self.ledger.outbox if s.relayed_at is None)


@dataclass
class FakeLeadership:
    leader: bool = True
    waits: list[float] = field(default_factory=list)
    stop_after: int | None = None
    closed: bool = False

    async def hold(self) -> bool:
        return self.leader

    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            self.stop.set()

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
    sender: RecordingSender
    relay: Relay
    clock: Clock
    scanner: Scanner

    def announced(self, event_type: str) -> list[dict[str, Any]]:
        out = [orjson.loads(r.value or b"") for r in self.sender.rows]
        return [e for e in out if e["event_type"] == event_type]


def make_rig(
    now: datetime,
    store: FakeScanStore | None = None,
    batch: int = 1000,
    sender: RecordingSender | None = None,
) -> Rig:
    store = store or FakeScanStore()
    sender = sender or RecordingSender()
    relay = Relay(store.ledger, sender, sweep_after_seconds=0.0)
    leadership, clock = FakeLeadership(), Clock(now)
    scanner = Scanner(
        store=store,
        leadership=leadership,
        relay=relay,
        clock=clock,
        batch=batch,
        max_sleep=1.0,
        leader_poll=1.0,
        early_events_kept=timedelta(days=90),
    )
    return Rig(store, leadership, sender, relay, clock, scanner)


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
    assert rig.store.unrelayed() == 0


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


async def test_a_relay_that_dies_after_sending_is_resent_by_the_sweeper_with_the_same_id() -> None:
    class AckLost(RecordingSender):
        failed = False

        async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
            await super().send(rows, timestamp_ms=timestamp_ms)
            if not self.failed:
                self.failed = True
                raise ConnectionError("acknowledgement lost")

    rig = make_rig(DUE + timedelta(seconds=1), sender=AckLost())
    rig.store.add(bare_timer(DUE))

    with capture_logs() as logs:
        outcome = await rig.scanner.scan_once()
    assert (outcome.settled, outcome.relayed) == (1, 0)
    assert any(e["event"] == "sla_relay_deferred" for e in logs)
    assert rig.store.unrelayed() == 1  # committed, so never lost
    await rig.relay.sweep_once()  # the sweeper every worker runs

    ids = [e["event_id"] for e in rig.announced("sla.breached")]
    assert len(ids) == 2
    assert len(set(ids)) == 1
    assert rig.store.unrelayed() == 0


async def test_a_broker_that_is_away_does_not_stop_the_scanner_settling() -> None:
    rig = make_rig(DUE + timedelta(seconds=1))
    for _ in range(3):
        rig.store.add(bare_timer(DUE))
    rig.sender.fail_next = ConnectionRefusedError("broker away")

    outcome = await rig.scanner.scan_once()

    assert outcome.settled == 3
    assert all(t.status is TimerStatus.BREACHED for t in rig.store.timers.values())
    assert rig.store.unrelayed() == 3
    await rig.relay.sweep_once()
    assert len(rig.announced("sla.breached")) == 3


async def test_announcements_are_sent_only_after_their_transaction_committed() -> None:
    class Watching(RecordingSender):
        async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
            committed = {s.row.id for s in store.ledger.outbox}
            assert all(r.id in committed for r in rows)
            await super().send(rows, timestamp_ms=timestamp_ms)

    store = FakeScanStore()
    rig = make_rig(DUE + timedelta(seconds=1), store, batch=2, sender=Watching())
    for _ in range(5):
        rig.store.add(bare_timer(DUE))

    outcome = await rig.scanner.scan_once()

    assert (outcome.settled, outcome.relayed) == (5, 5)
    assert len(rig.announced("sla.breached")) == 5


async def test_settling_goes_on_while_the_broker_is_slow_and_the_backlog_follows_in_order() -> None:
    gate = asyncio.Event()

    class Slow(RecordingSender):
        calls = 0

        async def send(self, rows: Sequence[OutboxRow], *, timestamp_ms: int) -> None:
            self.calls += 1
            if self.calls == 1:
                await gate.wait()  # the broker takes its time with the first round
            await super().send(rows, timestamp_ms=timestamp_ms)

    rig = make_rig(DUE + timedelta(seconds=1), batch=1, sender=Slow())
    timers = [rig.store.add(bare_timer(DUE + timedelta(microseconds=-n))) for n in range(5)]
    scanning = asyncio.ensure_future(rig.scanner.scan_once())
    for _ in range(50):
        await asyncio.sleep(0)

    assert all(t.status is TimerStatus.BREACHED for t in rig.store.timers.values())
    gate.set()
    outcome = await scanning

    assert (outcome.settled, outcome.relayed) == (5, 5)
    assert rig.sender.calls == 2  # the first round alone, then the whole backlog at once
    order = [e["payload"]["timer_id"] for e in rig.announced("sla.breached")]
    assert order == [str(t.timer_id) for t in sorted(timers, key=lambda t: t.due_at)]


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
    assert rig.sender.rows == []
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

    async def flaky(
        now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> Sequence[OutboxRow]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database restarting")
        return await real(now, limit, settle, recorded_before=recorded_before)

    rig.store.settle_due = flaky  # type: ignore[method-assign]
    rig.leadership.stop_after = 3

    with capture_logs() as logs:
        await rig.scanner.run(rig.leadership.stop)

    assert any(e["event"] == "sla_scan_failed" for e in logs)
    assert len(rig.announced("sla.breached")) == 1
    assert rig.leadership.closed


# -- scheduled announcements ----------------------------------------------------------------------


def late_meet(cal: WorkingCalendar, met_at: datetime) -> tuple[Timer, OutboxEntry]:
    """A clock the lifecycle handler met late, and the breach it scheduled for `met_at`."""
    timer = screening_timer(cal)
    after = timer.model_copy(
        update={"status": TimerStatus.MET, "met_at": met_at, "breached_at": met_at}
    )
    event = announcements.breached(after, team="MASH")
    return after, announcements.outbox_entry(after, event)


async def test_a_breach_the_handler_scheduled_goes_out_at_its_moment_never_before(
    cal: WorkingCalendar,
) -> None:
    moment = datetime(2025, 3, 7, 9, 0, tzinfo=UTC)
    rig = make_rig(moment - timedelta(milliseconds=200))
    timer, entry = late_meet(cal, moment)
    rig.store.add(timer)
    rig.store.scheduled[entry.event_id] = entry

    wait = await rig.scanner.step()
    assert rig.announced("sla.breached") == []
    assert 0.2 < wait < 0.21  # wakes just after the scheduled moment

    rig.clock.now = moment
    await rig.scanner.step()
    await rig.scanner.step()
    (breach,) = rig.announced("sla.breached")
    assert breach["event_id"] == str(uuid5(timer.timer_id, "breached"))
    assert not rig.store.scheduled
    assert rig.store.unrelayed() == 0


# -- early events' retention -----------------------------------------------------------------------


async def test_early_events_past_their_retention_are_forgotten_at_most_every_hour() -> None:
    now = DUE
    rig = make_rig(now)
    old, recent = uuid4(), uuid4()
    rig.store.early = {old: now - timedelta(days=91), recent: now - timedelta(days=89)}

    await rig.scanner.step()
    assert set(rig.store.early) == {recent}
    assert rig.store.forgotten_before == [now - timedelta(days=90)]

    rig.clock.now = now + timedelta(minutes=59)
    await rig.scanner.step()
    assert len(rig.store.forgotten_before) == 1  # not again within the hour

    rig.clock.now = now + timedelta(days=2)
    await rig.scanner.step()
    assert rig.store.early == {}
    assert len(rig.store.forgotten_before) == 2


async def test_a_backlog_of_early_events_is_forgotten_a_chunk_per_round() -> None:
    rig = make_rig(DUE, batch=2)
    rig.store.early = {uuid4(): DUE - timedelta(days=400) for _ in range(5)}

    for _ in range(4):
        await rig.scanner.step()

    assert rig.store.early == {}
    assert len(rig.store.forgotten_before) == 3  # 2, 2, 1: then the hourly rhythm again


async def test_only_the_leader_forgets_early_events() -> None:
    rig = make_rig(DUE)
    rig.store.early = {uuid4(): DUE - timedelta(days=400)}
    rig.leadership.leader = False

    await rig.scanner.step()

    assert len(rig.store.early) == 1


# -- stopping --------------------------------------------------------------------------------------


async def test_the_scanner_stops_with_its_worker_even_while_it_sleeps() -> None:
    class Sleepy(FakeLeadership):
        async def wait(self, seconds: float) -> None:
            await asyncio.sleep(3600)

    rig = make_rig(DUE)
    rig.scanner.leadership = leadership = Sleepy()
    stop = asyncio.Event()
    running = asyncio.ensure_future(rig.scanner.run(stop))
    await asyncio.sleep(0.05)

    stop.set()
    await asyncio.wait_for(running, timeout=2)

    assert leadership.closed


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
