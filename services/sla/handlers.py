"""The SLA service's two use cases: lifecycle batches move clocks, the breach scan announces them.

**Lifecycle** (`TimerHandler`, one handler for every lifecycle topic). The pipeline
(``services/common/pipeline.py``) has already decoded the batch, kept the types the SLA service
reads (those the policy's clocks react to and those that name the child's team), claimed the
event ids in ``processed_events`` and opened the batch's transaction. What is left is SLA's own:
lock the batch's children and load their clocks and team histories (`TimerStore.load`), apply
the events (`ChildClocks`: the result is the same in whatever order the four topics were read —
each timer's team is the child's team as of its start by event time, the earliest closing wins),
emit ``sla.started`` / ``sla.met`` / ``sla.cancelled`` for every change (to the outbox: relayed
after the commit, once the row locks are gone), schedule the ``sla.breached`` of a late meet or
cancel (released by the scanner no earlier than its moment), and write the timers, team marks,
teams and early events. An event that lacks a field the policy needs (`TriggerError`) is refused
— a ``validation`` dead letter, not claimed, so it can be replayed after a fix — and changes
nothing. Any other failure is left to the pipeline, which isolates it.

**Breach scan** (`Scanner`): the leader-only loop that warns and breaches on time, exactly once
per clock; its docstring states which guard enforces each step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import structlog

from schemas.topics import SLA
from services.common.calendar import WorkingCalendar
from services.common.outbox import OutboxRow
from services.common.pipeline import Delivery, Unit
from services.sla.domain.announcements import Cause
from services.sla.domain.batch import ChildRecord, announcements_of, batch_write, clocks_of
from services.sla.domain.breaches import settle_at
from services.sla.domain.policies import Policies
from services.sla.domain.triggers import TriggerError
from services.sla.ports import Leadership, OutboxRelay, ScanStore, StoreFor

log = structlog.get_logger(__name__)

TIMERS_CONSUMER = "sla.timers"
"""The ``processed_events.consumer`` of the lifecycle handler, on every lifecycle topic."""

Clock = Callable[[], datetime]


@dataclass
class TimerHandler:
    store_for: StoreFor
    policy: Policies
    calendar: WorkingCalendar
    clock: Clock
    """The worker's clock: ``recorded_at`` of what the batch writes (the scanner's grace reads
    it on the same clock), never a clock's start or deadline."""

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self.store_for(unit.connection)
        child_ids = sorted({d.event.subject.child_id for d in deliveries})
        stored = await store.load(child_ids)
        clocks = {
            child: clocks_of(child, stored.get(child, ChildRecord()), self.policy, self.calendar)
            for child in child_ids
        }
        for d in deliveries:
            event = d.event
            try:
                # the event as JSON: its canonical bytes are model_dump_json's, read back
                changes = clocks[event.subject.child_id].apply(
                    orjson.loads(d.canonical), Cause(event.event_id, event.correlation_id)
                )
            except TriggerError as exc:
                unit.reject(d, exc)
                continue
            unit.note(d, clocks=[f"{c.verb.value}:{c.after.kind}" for c in changes])
        # announcements (and the breaches they schedule) only where something reads them: a
        # rebuild discards both, and building them was a quarter of its SLA time
        records, scheduled = announcements_of(clocks.values()) if unit.read(SLA.name) else ([], [])
        for record in records:
            unit.emit(record)
        await store.save(batch_write(self.clock(), clocks.values(), scheduled))


# -- the breach scan ---------------------------------------------------------------------------

WAKE_MARGIN = timedelta(milliseconds=1)
"""Wake this long after a deadline: a breach is owed only strictly after ``due_at``."""
MIN_SLEEP = 0.02
"""Floor of a sleep when something is already owed but locked by another transaction."""


@dataclass(frozen=True)
class ScanOutcome:
    settled: int
    released: int
    relayed: int


@dataclass(frozen=True)
class _Round:
    settled: int
    released: int
    rows: Sequence[OutboxRow]


@dataclass
class Scanner:
    """The leader-only breach loop: warnings and breaches announced on time, once per clock.

    It runs as a task of every SLA worker (``Service.tasks``), on either runner; one replica at a
    time holds the scanner lease (`Leadership`: in production a PostgreSQL session-level advisory
    lock on a dedicated connection; a dropped connection loses it and a replica takes over within
    ``leader_poll`` seconds). The leader repeats:

    1. settle: in one transaction, take the open clocks whose deadline has passed (strictly:
       ``due_at < now``) or whose warning is owed, locked with SKIP LOCKED; record the transition
       with the domain's `breach` / `warn` and write the ``sla.breached`` / ``sla.warning``
       announcement to the outbox, both in that transaction. The row's status is the guard: a
       clock leaves ``open`` once, so its breach is written once however many scanners run (a
       stale leader that has not noticed it lost the lease is harmless too). Then release, in a
       second transaction, the scheduled announcements whose moment has come (a late meet's
       breach, recorded by the lifecycle handler) from ``sla_outbox`` into the outbox: the move is
       the guard, each enters the outbox once.
    2. relay: after those commits — with no row lock held — send the committed outbox rows and
       mark them relayed (``services.common.outbox.Relay``), beside the next rounds. A relay that
       fails (the broker is away) is left to the relay sweeper every worker runs, which sends any
       unrelayed row; ids are deterministic, so a relay that dies after sending sends the same
       ids again, never a new breach.
    3. forget: early events past their retention (`early_events_kept`), one bounded chunk a round.
    4. sleep until the earliest next moment (deadline, warning or scheduled announcement), at most
       ``max_sleep`` seconds, or until the store signals a new clock.

    A clock that is already overdue when it is recorded (a replay, or a start event that arrived
    late) is breached ``grace`` seconds after it was recorded rather than at once: its closing
    event is often in flight on another topic (a decision behind its contact), and an
    announcement that a later event withdraws is noise. Clocks recorded before their deadline are
    not affected. The clock is injected (`Clock`), so tests drive time without sleeping; nothing
    here does I/O itself — the store, the lease and the relay are ports.
    """

    store: ScanStore
    leadership: Leadership
    relay: OutboxRelay
    clock: Clock
    batch: int = 1000
    max_sleep: float = 1.0
    leader_poll: float = 1.0
    grace: timedelta = timedelta(seconds=3)
    early_events_kept: timedelta | None = None
    """Early events recorded longer ago than this are forgotten (``SlaSettings``); None: kept."""
    forget_every: timedelta = timedelta(hours=1)
    _next_forget: datetime | None = field(default=None, repr=False)

    async def scan_once(self) -> ScanOutcome:
        """Settle, release and relay until nothing owed is left (as of each round's clock).

        Rounds of commits follow each other without waiting for Kafka; one relay at a time runs
        beside them and takes everything committed since it last started, in commit order (so
        a backlog is sent in ever larger batches, and a clock's warning before its breach). The
        rounds end when one commits nothing; the last relay is awaited, never cut off.
        """
        settled = released = relayed = 0
        committed: list[OutboxRow] = []
        relaying: asyncio.Task[int] | None = None
        try:
            while True:
                done = await self._commit(self.clock())
                settled, released = settled + done.settled, released + done.released
                committed.extend(done.rows)
                if relaying is not None and relaying.done():
                    relayed += relaying.result()
                    relaying = None
                if relaying is None and committed:
                    relaying = asyncio.ensure_future(self._relay(committed))
                    committed = []
                if not done.rows:
                    break
        finally:
            if relaying is not None:  # a relay already sending runs to its end
                relayed += await relaying
        relayed += await self._relay(committed)
        return ScanOutcome(settled, released, relayed)

    async def _commit(self, now: datetime) -> _Round:
        settled = await self.store.settle_due(
            now, self.batch, settle_at(now), recorded_before=now - self.grace
        )
        released = await self.store.release_scheduled(now, self.batch)
        return _Round(len(settled), len(released), [*settled, *released])

    async def _relay(self, rows: Sequence[OutboxRow]) -> int:
        """Send committed rows; a failure leaves them to the relay sweeper (never lost)."""
        if not rows:
            return 0
        try:
            await self.relay.relay(rows)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sla_relay_deferred", rows=len(rows), error_class=type(exc).__name__)
            return 0
        return len(rows)

    async def forget_early_events(self) -> int:
        """Delete one chunk of early events past their retention, at most every
        ``forget_every`` (at once again while chunks come back full)."""
        if self.early_events_kept is None:
            return 0
        now = self.clock()
        if self._next_forget is not None and now < self._next_forget:
            return 0
        forgotten = await self.store.forget_early_events(now - self.early_events_kept, self.batch)
        self._next_forget = now if forgotten >= self.batch else now + self.forget_every
        if forgotten:
            log.info("sla_early_events_forgotten", rows=forgotten)
        return forgotten

    async def delay(self) -> float:
        """Seconds to sleep: until just after the next moment, capped at `max_sleep`."""
        now = self.clock()
        moment = await self.store.next_moment(self.grace)
        if moment is None:
            return self.max_sleep
        seconds = (moment + WAKE_MARGIN - now).total_seconds()
        return min(self.max_sleep, max(MIN_SLEEP, seconds))

    async def step(self) -> float:
        """One round: scan if leader; return how long to wait before the next round."""
        if not await self.leadership.hold():
            return self.leader_poll
        outcome = await self.scan_once()
        if outcome.settled or outcome.released or outcome.relayed:
            log.info(
                "sla_scan",
                settled=outcome.settled,
                released=outcome.released,
                relayed=outcome.relayed,
            )
        await self.forget_early_events()
        return await self.delay()

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until `stop`. A failing round is logged and retried; it never ends the loop (the
        lifecycle subscriptions of the same worker must not stop because the scanner cannot
        reach the database for a while)."""
        backoff = self.leader_poll
        try:
            while not stop.is_set():
                try:
                    wait = await self.step()
                    backoff = self.leader_poll
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("sla_scan_failed", error_class=type(exc).__name__)
                    wait, backoff = backoff, min(backoff * 2, 30.0)
                await self._pause(wait, stop)
        finally:
            await self.leadership.close()

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep `seconds`, or until the lease signals new work, or until `stop`."""
        tasks = [
            asyncio.ensure_future(self.leadership.wait(seconds)),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
