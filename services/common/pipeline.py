"""The one pipeline every stream service runs on: decode → de-duplicate → handle → save → relay.

A service declares its ``Subscription`` s (topic, consumer group, the event types it wants, the
handler) in its ``bootstrap.py``; a runner (``runners.py`` for aiokafka, ``faust_runner.py`` for
faust) feeds batches of raw records to ``Pipeline.process`` and commits the offsets only after it
returned. For each batch:

1. **Decode** every record through the schema registry (``decoding.py``). A record that is not an
   event, breaks the contract or carries a bad header becomes a dead letter (``deserialization`` /
   ``validation``); a type the subscription does not want is skipped (by the ``event_type``
   header when present, before any parsing).
2. **De-duplicate**, inside one PostgreSQL transaction: the batch's ids are *claimed* in
   ``processed_events``. A repeat is a no-op; the same id with different content is a
   ``validation`` dead letter.
3. **Handle**: the service's handler gets the fresh events and a ``Unit`` — the transaction's
   connection for its adapters, ``emit`` for the records it causes, ``reject`` for an event that
   breaks one of its own invariants, ``defer`` for one the world is not ready for (left
   unclaimed, no dead letter: the handler keeps it and feeds it again itself).
4. **Save**: the handler's writes, the claims and every emitted record and dead letter (into the
   outbox) commit together.
5. **Relay** the committed outbox rows to Kafka, outside any transaction (``outbox.py``).

**One error policy.** A record the contract refuses is a ``validation`` dead letter. Any other
exception is the record's: the batch is split in halves, recursively, until the failing record
stands alone; it is tried ``attempts`` times and then becomes a ``processing`` dead letter while
the rest of the batch proceeds in order. Only infrastructure failures (``failures.py``: database or
broker away) are retried as a whole, with backoff, and stop the worker after ``give_up_seconds``
so that its supervisor restarts it with nothing committed.

Each record gets one canonical log line, ``record_handled``, bound to ``event_id``,
``correlation_id``, ``child_id``, ``topic``, ``partition`` and ``offset``, with its ``outcome``
and whatever the handler noted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import structlog

from schemas.envelope import EventBase
from schemas.errors import describe_exception
from schemas.topics import DEADLETTER
from services.common.deadletter import DeadLetter, DeadLetterReason, Origin
from services.common.decoding import Decoded, Refused, decode_record
from services.common.failures import RetryLaterError, is_infrastructure
from services.common.ledger import Claim, Ledger
from services.common.outbox import OutboxRow, Relay
from services.common.publishing import OutRecord

log = structlog.get_logger(__name__)

#: Namespace of dead-letter ids: a letter is identified by its content, never by its offset.
DEADLETTER_NAMESPACE = uuid.UUID("6d1c9a4e-2f0b-5c8e-9a47-0f5d2b8e1c33")
DLQ_ID_HEADER = "dlq.id"


class EventIdReusedError(ValueError):
    """An event id arrived again with different content."""


class WorkerGivesUpError(RuntimeError):
    """The infrastructure stayed away longer than ``give_up_seconds``; the worker exits."""


@dataclass(frozen=True)
class Delivery:
    """One fresh record for a handler: the decoded event (absent for raw subscriptions)."""

    origin: Origin
    id: UUID
    content_hash: bytes
    decoded: Decoded | None = None

    @property
    def event(self) -> EventBase:
        if self.decoded is None:
            raise TypeError("a raw subscription's records are not decoded events")
        return self.decoded.event

    @property
    def canonical(self) -> bytes:
        if self.decoded is None:
            raise TypeError("a raw subscription's records are not decoded events")
        return self.decoded.canonical


@dataclass
class Unit:
    """What a handler may do with one batch: write (``connection``), ``emit``, ``reject``."""

    connection: Any
    now: datetime
    """Processing time: for ``received_at`` / ``processed_at`` only, never for a derived value."""
    consumer: str
    group: str
    emitted: list[OutboxRow] = field(default_factory=list)
    rejected: dict[UUID, str] = field(default_factory=dict)
    deferred: set[UUID] = field(default_factory=set)
    notes: dict[UUID, dict[str, object]] = field(default_factory=dict)
    read: Callable[[str], bool] = field(default=lambda _topic: True)
    """Whether anything reads what is emitted on a topic: always, for a worker (its records
    reach Kafka); in a rebuild, only the topics a later stage reads (``rebuild.py``), so that a
    handler need not build announcements that would be thrown away."""

    def emit(
        self, record: OutRecord, *, event_id: UUID | None = None, event_type: str | None = None
    ) -> None:
        """Send ``record`` after the commit. Its id: given, the record's, else its value's."""
        event_id = event_id or record.event_id or _value_event_id(record.value)
        event_type = event_type or record.event_type or _header(record.headers, "event_type")
        self.emitted.append(OutboxRow.of(record, event_id=event_id, event_type=event_type))

    def reject(
        self,
        delivery: Delivery,
        exc: Exception,
        reason: DeadLetterReason = DeadLetterReason.VALIDATION,
    ) -> None:
        """Dead-letter ``delivery``; it is not marked processed, so a replay after a fix counts."""
        self.emitted.append(dead_letter_row(delivery.origin, reason, exc, self.group, self.now))
        self.rejected[delivery.id] = reason.value

    def defer(self, delivery: Delivery) -> None:
        """Not now: ``delivery`` is neither handled nor dead-lettered, and stays unclaimed, so
        that the handler can take it up again later (it keeps what it needs to, in its own
        transaction: e.g. the workforce service parks an event naming a team its directory has
        not caught up with, services/workforce/handlers.py)."""
        self.deferred.add(delivery.id)

    def note(self, delivery: Delivery, **fields: object) -> None:
        """Add fields to ``delivery`` 's canonical log line."""
        self.notes.setdefault(delivery.id, {}).update(fields)


Handler = Callable[[Unit, Sequence[Delivery]], Awaitable[None]]
HandlerFactory = Callable[[Any], AbstractAsyncContextManager[Handler]]
"""Opens a handler given the process's ``Resources`` (``runtime.py``): pool, ledger, relay."""


@dataclass(frozen=True)
class Subscription:
    """One stream a service reads: declared once, in the service's ``bootstrap.py``."""

    consumer: str
    """The ledger name (``processed_events.consumer``), e.g. ``screening.triage``."""
    topic: str
    group: str
    handler: HandlerFactory
    event_types: frozenset[str] | None = None
    """The types the handler wants; ``None`` for every type."""
    raw: bool = False
    """Records are not events (the dead-letter topic): no decoding, id from ``identify``."""
    max_batch: int = 500
    within: float = 0.02
    max_bytes: int | None = None


@dataclass(frozen=True)
class Outcome:
    handled: int = 0
    repeats: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    deferred: int = 0


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def _value_event_id(value: bytes | None) -> UUID:
    data = orjson.loads(value or b"{}")
    return UUID(str(data["event_id"]))


def content_id(origin: Origin) -> tuple[UUID, bytes]:
    """A record's identity by content: topic, key, value and its non-``dlq.`` headers."""
    digest = hashlib.sha256()
    for part in (origin.topic.encode(), origin.key or b"", origin.value or b""):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    for name, value in origin.headers:
        if not name.startswith("dlq."):
            digest.update(name.encode() + b"\x00" + value + b"\x00")
    raw = digest.digest()
    return uuid.uuid5(DEADLETTER_NAMESPACE, raw.hex()), raw


def deadletter_id(origin: Origin) -> tuple[UUID, bytes]:
    """The id of a dead letter: its ``dlq.id`` header, else derived from its content."""
    stated = _header(origin.headers, DLQ_ID_HEADER)
    digest = hashlib.sha256(origin.value or b"").digest()
    if stated is not None:
        try:
            return UUID(stated), digest
        except ValueError:
            pass
    return content_id(origin)


def letter_id(origin: Origin, group: str) -> UUID:
    """A dead letter's id: the refused record's content and the group that refused it."""
    content, _ = content_id(origin)
    return uuid.uuid5(DEADLETTER_NAMESPACE, f"{content}/{group}")


def dead_letter_row(
    origin: Origin, reason: DeadLetterReason, exc: BaseException, group: str, now: datetime
) -> OutboxRow:
    letter_id_ = letter_id(origin, group)
    letter = DeadLetter(
        origin=origin,
        reason=reason,
        exception_class=f"{type(exc).__module__}.{type(exc).__qualname__}",
        exception_message=describe_exception(exc),
        consumer_group=group,
        failed_at=now,
        extra_headers=((DLQ_ID_HEADER, str(letter_id_).encode()),),
    )
    return OutboxRow.of(letter.record(), event_id=letter_id_, event_type=None)


@dataclass
class _Item:
    origin: Origin
    delivery: Delivery | None = None
    refused: Refused | None = None
    ignored: bool = False
    repeat_in_batch: bool = False


@dataclass
class Pipeline:
    """Runs one subscription's batches with the one error policy (see the module docstring)."""

    subscription: Subscription
    handler: Handler
    ledger: Ledger
    relay: Relay
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    attempts: int = 3
    give_up_seconds: float = 240.0
    backoff: tuple[float, float] = (0.2, 5.0)
    read: Callable[[str], bool] = field(default=lambda _topic: True)
    """Handed to every ``Unit`` (``Unit.read``)."""

    async def process(self, origins: Sequence[Origin]) -> Outcome:
        """Handle one batch; returns when everything in it is committed (or dead-lettered)."""
        items = [self._decode(o) for o in origins]
        dead = [
            dead_letter_row(
                i.origin, i.refused.reason, i.refused.error, self.subscription.group, self.clock()
            )
            for i in items
            if i.refused is not None
        ]
        wanted: list[Delivery] = []
        seen: dict[UUID, bytes] = {}
        for item in items:
            d = item.delivery
            if d is None:
                continue
            earlier = seen.get(d.id)
            if earlier is None:
                seen[d.id] = d.content_hash
                wanted.append(d)
            elif earlier == d.content_hash:
                item.repeat_in_batch = True
            else:
                item.refused = Refused(DeadLetterReason.VALIDATION, _reused(d.id))
                dead.append(
                    dead_letter_row(
                        item.origin,
                        DeadLetterReason.VALIDATION,
                        _reused(d.id),
                        self.subscription.group,
                        self.clock(),
                    )
                )
        outcome = await self._until_done(wanted, dead)
        for item in items:
            if item.refused is not None:
                self._log(
                    item.origin,
                    None,
                    "deadlettered",
                    reason=item.refused.reason.value,
                    error_class=type(item.refused.error).__name__,
                )
            elif item.ignored:
                pass  # not this subscription's: no line per skipped record
            elif item.repeat_in_batch and item.delivery is not None:
                self._log(item.origin, item.delivery, "repeat")
        ignored = sum(1 for i in items if i.ignored)
        return Outcome(
            handled=outcome.handled,
            repeats=outcome.repeats + sum(1 for i in items if i.repeat_in_batch),
            ignored=ignored,
            dead_lettered=outcome.dead_lettered + len(dead),
            deferred=outcome.deferred,
        )

    # -- decoding -------------------------------------------------------------------------

    def _decode(self, origin: Origin) -> _Item:
        sub = self.subscription
        if sub.raw:
            letter_id, digest = deadletter_id(origin)
            return _Item(origin, delivery=Delivery(origin, letter_id, digest))
        if sub.event_types is not None:
            labelled = _header(origin.headers, "event_type")
            if labelled is not None and labelled not in sub.event_types:
                return _Item(origin, ignored=True)
        decoded = decode_record(origin, max_bytes=sub.max_bytes)
        if isinstance(decoded, Refused):
            return _Item(origin, refused=decoded)
        if sub.event_types is not None and decoded.event.event_type not in sub.event_types:
            return _Item(origin, ignored=True)
        delivery = Delivery(origin, decoded.event.event_id, decoded.content_hash, decoded)
        return _Item(origin, delivery=delivery)

    # -- the error policy -----------------------------------------------------------------

    async def _until_done(self, wanted: list[Delivery], dead: list[OutboxRow]) -> Outcome:
        """Retry infrastructure failures as a whole; give up (exit) after ``give_up_seconds``."""
        started = time.monotonic()
        delay = self.backoff[0]
        while True:
            try:
                return await self._isolating(wanted, dead)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_infrastructure(exc):
                    raise
                waited = time.monotonic() - started
                if isinstance(exc, RetryLaterError):  # not a failure: look again shortly
                    if waited > self.give_up_seconds:
                        raise WorkerGivesUpError(f"still waiting after {waited:.0f}s") from exc
                    await asyncio.sleep(0.1)
                    continue
                log.warning(
                    "pipeline_waiting_for_infrastructure",
                    consumer=self.subscription.consumer,
                    error_class=type(exc).__name__,
                    waited_seconds=round(waited, 1),
                )
                if waited > self.give_up_seconds:
                    raise WorkerGivesUpError(
                        f"infrastructure unavailable for {waited:.0f}s"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _isolating(self, batch: list[Delivery], dead: list[OutboxRow]) -> Outcome:
        """Handle ``batch``; on a record's failure split it until the failing one stands alone."""
        try:
            return await self._unit(batch, dead)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            if len(batch) > 1:
                mid = len(batch) // 2
                log.warning(
                    "batch_split",
                    consumer=self.subscription.consumer,
                    size=len(batch),
                    error_class=type(exc).__name__,
                )
                left = await self._isolating(batch[:mid], dead)
                right = await self._isolating(batch[mid:], [])
                return _sum(left, right)
            if not batch:
                raise  # only dead letters, and saving them failed: not a record's fault
            return await self._alone(batch[0], dead, exc)

    async def _alone(self, delivery: Delivery, dead: list[OutboxRow], first: Exception) -> Outcome:
        error: Exception = first
        for _ in range(self.attempts - 1):
            try:
                return await self._unit([delivery], dead)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                error = exc
        if delivery.origin.topic == DEADLETTER.name:
            return await self._unstorable(delivery, dead, error)
        # the record itself keeps failing: dead-letter it, unclaimed, so a replay after a fix
        # is handled as new
        row = dead_letter_row(
            delivery.origin,
            DeadLetterReason.PROCESSING,
            error,
            self.subscription.group,
            self.clock(),
        )
        async with self.ledger.unit(self.subscription.consumer) as lu:
            stored = await lu.enqueue([*dead, row])
        await self._relay(stored)
        self._log(
            delivery.origin,
            delivery,
            "deadlettered",
            reason=DeadLetterReason.PROCESSING.value,
            error_class=type(error).__name__,
        )
        return Outcome(dead_lettered=1)

    async def _unstorable(
        self, delivery: Delivery, dead: list[OutboxRow], error: Exception
    ) -> Outcome:
        """A dead letter that cannot be kept is never dead-lettered onto its own topic (a loop).

        Its bytes stay where they are — in the outbox row that carried it and in the topic — so
        nothing is lost; it is claimed so that it does not come round again, and logged as an
        error for ops to look at.
        """
        async with self.ledger.unit(self.subscription.consumer) as lu:
            await lu.claim([(delivery.id, delivery.content_hash)])
            stored = await lu.enqueue(dead)
        await self._relay(stored)
        log.error(
            "record_handled",
            consumer=self.subscription.consumer,
            topic=delivery.origin.topic,
            partition=delivery.origin.partition,
            offset=delivery.origin.offset,
            event_id=str(delivery.id),
            outcome="unstorable",
            error_class=type(error).__name__,
        )
        return Outcome(dead_lettered=0)

    # -- one transaction ------------------------------------------------------------------

    async def _unit(self, batch: list[Delivery], dead: list[OutboxRow]) -> Outcome:
        sub = self.subscription
        async with self.ledger.unit(sub.consumer) as lu:
            claims = await lu.claim([(d.id, d.content_hash) for d in batch])
            unit = Unit(lu.connection, self.clock(), sub.consumer, sub.group, read=self.read)
            fresh = [d for d in batch if claims.get(d.id) is Claim.FRESH]
            for d in batch:
                if claims.get(d.id) is Claim.CONFLICT:
                    unit.reject(d, _reused(d.id))
            if fresh:
                await self.handler(unit, fresh)
            if unit.rejected or unit.deferred:
                # unclaimed: a replay after a fix, or the handler's own retry, is handled as new
                await lu.release([*unit.rejected, *unit.deferred])
            stored = await lu.enqueue([*dead, *unit.emitted])
        await self._relay(stored)
        repeats = 0
        for d in batch:
            claim = claims.get(d.id)
            if d.id in unit.rejected:
                self._log(d.origin, d, "deadlettered", reason=unit.rejected[d.id])
            elif d.id in unit.deferred:
                self._log(d.origin, d, "deferred", **unit.notes.get(d.id, {}))
            elif claim is Claim.FRESH:
                self._log(d.origin, d, "handled", **unit.notes.get(d.id, {}))
            else:
                repeats += 1
                self._log(d.origin, d, "repeat")
        rejected, deferred = len(unit.rejected), len(unit.deferred - set(unit.rejected))
        done = sum(1 for d in fresh if d.id in unit.rejected or d.id in unit.deferred)
        return Outcome(
            handled=len(fresh) - done, repeats=repeats, dead_lettered=rejected, deferred=deferred
        )

    async def _relay(self, rows: Sequence[OutboxRow]) -> None:
        await self.relay.relay_or_defer(rows, producer=self.subscription.consumer)

    def _log(
        self, origin: Origin, delivery: Delivery | None, outcome: str, **fields: object
    ) -> None:
        if not log.is_enabled_for(logging.INFO):
            return  # the line would be dropped: not worth building (a rebuild logs warnings)
        bound: dict[str, object] = {
            "consumer": self.subscription.consumer,
            "topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "outcome": outcome,
        }
        if delivery is not None and delivery.decoded is not None:
            event = delivery.decoded.event
            bound.update(
                event_id=str(event.event_id),
                event_type=event.event_type,
                child_id=event.subject.child_id,
                correlation_id=str(event.correlation_id) if event.correlation_id else None,
            )
        elif delivery is not None:
            bound["event_id"] = str(delivery.id)
        log.info("record_handled", **bound, **fields)


def _sum(a: Outcome, b: Outcome) -> Outcome:
    return Outcome(
        handled=a.handled + b.handled,
        repeats=a.repeats + b.repeats,
        ignored=a.ignored + b.ignored,
        dead_lettered=a.dead_lettered + b.dead_lettered,
        deferred=a.deferred + b.deferred,
    )


def _reused(event_id: UUID) -> EventIdReusedError:
    return EventIdReusedError(
        f"event_id {event_id} was already accepted with different content; "
        "a corrected event needs a new event_id"
    )
