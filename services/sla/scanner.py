"""The leader-only breach loop: warnings and breaches announced on time, exactly once per clock.

One replica at a time holds the scanner lease (`Leadership`: in production a PostgreSQL
session-level advisory lock on a dedicated connection; a dropped connection loses it and a
replica takes over within ``leader_poll`` seconds). The leader repeats:

1. settle: in one transaction, take the open clocks whose deadline has passed (strictly: ``due_at <
   now``) or whose warning is owed, locked with SKIP LOCKED; record the transition with the domain's
   `breach` / `warn` and write the ``sla.breached`` / ``sla.warning`` announcement to the outbox,
   both in that transaction. The row's status is the guard: a clock leaves ``open`` once, so its
   breach is written once however many scanners run (a stale leader that has not noticed it lost
   the lease is harmless too).
2. relay: publish the outbox rows that are available and delete them after the broker
   acknowledged them (ids are deterministic, so a relay that dies in between republishes the same
   ids, never a new breach).
3. sleep until the earliest next moment (deadline, warning or outbox row), at most
   ``max_sleep`` seconds, or until the store signals a new clock.

A clock that is already overdue when it is recorded (a replay, or a start event that arrived
late) is breached ``grace`` seconds after it was recorded rather than at once: its closing event
is often in flight on another topic (a decision behind its contact), and an announcement that a
later event withdraws is noise. Clocks recorded before their deadline are not affected.

The clock is injected (`Clock`), so tests drive time without sleeping; nothing here does I/O
itself — the store, the lease and the publisher are ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from services.common.publishing import OutRecord, Publisher
from services.sla import announcements
from services.sla.announcements import OutboxEntry
from services.sla.domain.timers import Timer, breach, due_for_breach, due_for_warning, warn

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
WAKE_MARGIN = timedelta(milliseconds=1)
"""Wake this long after a deadline: a breach is owed only strictly after ``due_at``."""
MIN_SLEEP = 0.02
"""Floor of a sleep when something is already owed but locked by another transaction."""


@dataclass(frozen=True)
class DueTimer:
    """An open clock the scanner may have to act on, with the child's current team."""

    timer: Timer
    team: str | None


@dataclass(frozen=True)
class Settlement:
    """A clock's new state and the announcement that goes to the outbox with it."""

    timer: Timer
    entry: OutboxEntry


Settle = Callable[[Sequence[DueTimer]], list[Settlement]]
Publish = Callable[[Sequence[OutRecord]], Awaitable[None]]


class ScanStore(Protocol):
    async def settle_due(
        self, now: datetime, limit: int, settle: Settle, *, recorded_before: datetime
    ) -> int:
        """In one transaction: lock up to `limit` owed clocks of each kind of debt (a clock
        recorded when already overdue owes its breach only if recorded before `recorded_before`),
        `settle` them, write the new states and their outbox rows; return how many settled."""
        ...

    async def relay_outbox(self, now: datetime, limit: int, publish: Publish) -> int:
        """Publish up to `limit` outbox rows available at `now`, delete them once acknowledged."""
        ...

    async def next_moment(self, grace: timedelta) -> datetime | None:
        """The earliest moment something becomes owed: an open deadline (for a clock recorded
        already overdue, its recording + `grace`), an unwarned warning or an outbox row."""
        ...


class Leadership(Protocol):
    async def hold(self) -> bool:
        """Whether this replica holds the lease now (acquiring it if free)."""
        ...

    async def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`; return early when new work was signalled."""
        ...

    async def close(self) -> None: ...


def settle_at(now: datetime) -> Settle:
    """The pure decision for owed clocks at `now`: breach if overdue, else warn if owed."""

    def settle(due: Sequence[DueTimer]) -> list[Settlement]:
        settled: list[Settlement] = []
        for item in due:
            timer = item.timer
            if due_for_breach(timer, now):
                after = breach(timer, now)
            elif due_for_warning(timer, now):
                after = warn(timer, now)
            else:  # a row the query offered but the domain does not owe (e.g. exactly at due)
                continue
            settled.append(Settlement(after, announcements.scanner_entry(after, team=item.team)))
        return settled

    return settle


@dataclass(frozen=True)
class ScanOutcome:
    settled: int
    relayed: int


@dataclass
class Scanner:
    store: ScanStore
    leadership: Leadership
    publisher: Publisher
    clock: Clock
    batch: int = 1000
    max_sleep: float = 1.0
    leader_poll: float = 1.0
    grace: timedelta = timedelta(seconds=3)

    async def scan_once(self) -> ScanOutcome:
        """Settle and relay until nothing owed is left (as of each round's clock).

        Each round settles the next batch while it relays what the previous rounds committed
        (two transactions on two connections), so the database and the broker work in parallel;
        the rounds end when one settles nothing and relays less than a full batch.
        """
        settled = relayed = 0
        while True:
            now = self.clock()
            # both run to their end even if one fails: a relay is never cut off mid-publish
            outcomes = await asyncio.gather(
                self.store.settle_due(
                    now, self.batch, settle_at(now), recorded_before=now - self.grace
                ),
                self.store.relay_outbox(now, self.batch, self.publisher.publish),
                return_exceptions=True,
            )
            done, sent = outcomes
            if isinstance(done, BaseException):
                raise done
            if isinstance(sent, BaseException):
                raise sent
            settled += done
            relayed += sent
            if done == 0 and sent < self.batch:
                return ScanOutcome(settled, relayed)

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
        if outcome.settled or outcome.relayed:
            log.info("sla_scan", settled=outcome.settled, relayed=outcome.relayed)
        return await self.delay()

    async def run(self) -> None:
        """Loop until cancelled. A failing round is logged and retried; it never ends the loop."""
        backoff = self.leader_poll
        try:
            while True:
                try:
                    wait = await self.step()
                    backoff = self.leader_poll
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("sla_scan_failed", error_class=type(exc).__name__)
                    wait, backoff = backoff, min(backoff * 2, 30.0)
                await self.leadership.wait(wait)
        finally:
            await self.leadership.close()
