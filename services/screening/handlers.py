"""Screening's two use cases: triage a batch of contacts; record a batch of screening decisions.

Triage, per batch of ``frontdoor.contacts`` records: decode each record (one that fails goes to
the dead-letter topic with its original bytes), learn in one query which events were already
triaged (the ``processed_events`` ledger) and every child's history, triage with the rule set,
publish ``screening.triaged`` to ``frontdoor.casework`` (and ``crisis.raised`` to
``frontdoor.crisis`` for a red result out of office hours) and wait for the broker, then record
the results and the processed ids in one transaction. The outgoing events' ids are derived from
the source event's id, so a crash between publish and commit republishes the same ids and
downstream consumers drop the repeat.

Decisions: ``screening.decision_recorded`` on ``frontdoor.casework`` closes a screening. The
decision is stored beside the triage result, never replaced by it; every other casework event is
ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog

from schemas.codes import TriagePriority
from schemas.events.casework import ScreeningDecisionRecorded
from schemas.events.contacts import PoliceDaNotification
from schemas.events.triage import ScreeningTriaged
from schemas.topics import CASEWORK, CRISIS
from services.common.calendar import OfficeHours, WorkingCalendar
from services.common.deadletter import DeadLetterReason, Origin, dead_letter_for
from services.common.publishing import OutRecord, Publisher
from services.screening.adapters.records import (
    Contact,
    Rejected,
    crisis_event,
    decode_contact,
    decode_decision,
    event_record,
    triaged_event,
)
from services.screening.domain.from_event import TriageHistory, triage_input_from_event
from services.screening.domain.rules import RuleSet
from services.screening.domain.triage import CalendarDue, TriageResult, triage

log = structlog.get_logger(__name__)

TRIAGE_CONSUMER = "screening.triage"
DECISION_CONSUMER = "screening.decisions"


@dataclass(frozen=True)
class HistoryQuery:
    """Whose history to read, and as of when: the contact's incident time."""

    event_id: UUID
    child_id: str
    family_id: str | None
    incident_at: datetime


@dataclass(frozen=True)
class Triaged:
    """One contact with its triage result and the ``screening.triaged`` event published for it."""

    contact: Contact
    result: TriageResult
    published: ScreeningTriaged

    @property
    def incident_at(self) -> datetime:
        return incident_moment(self.contact)


@dataclass(frozen=True)
class Known:
    """What the store knows about a batch: which events it already processed, each history."""

    processed: frozenset[UUID]
    histories: Mapping[UUID, TriageHistory]


class ScreeningStore(Protocol):
    async def processed(self, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]: ...

    async def known(self, consumer: str, queries: Sequence[HistoryQuery]) -> Known: ...

    async def record_triage(self, consumer: str, triaged: Sequence[Triaged]) -> int: ...

    async def record_decisions(
        self, consumer: str, decisions: Sequence[ScreeningDecisionRecorded]
    ) -> int: ...


@dataclass(frozen=True)
class BatchOutcome:
    done: int
    duplicates: int
    dead_lettered: int
    crises: int = 0
    ignored: int = 0


def incident_moment(contact: Contact) -> datetime:
    """When it happened: the DA incident, or the time a general contact was received."""
    if isinstance(contact, PoliceDaNotification):
        return contact.payload.incident_at
    return contact.payload.contact_at


def working_hours_deadline(
    calendar: WorkingCalendar, office: OfficeHours, windows: Mapping[TriagePriority, float]
) -> CalendarDue:
    """Screening is due ``windows[priority]`` working hours after the contact was received."""

    def due(priority: TriagePriority, received_at: datetime) -> datetime:
        return calendar.add_working_hours(received_at, windows[priority], office)

    return due


def office_hours_test(calendar: WorkingCalendar, office: OfficeHours) -> Callable[[datetime], bool]:
    """Whether a moment is inside office hours on a working day (else: out of hours)."""
    return lambda moment: calendar.is_office_hours(moment, office)


def with_batch_incidents(
    queries: Sequence[HistoryQuery], stored: Mapping[UUID, TriageHistory]
) -> dict[UUID, TriageHistory]:
    """Each history plus the batch's other contacts for the same child or household.

    The stored history cannot yet hold a contact that arrived in this same batch; the domain
    counts only incidents before this one, so adding all of them is safe. Incidents are kept
    as distinct instants: one incident notified for each of three siblings counts once.
    """
    by_child: defaultdict[str, list[HistoryQuery]] = defaultdict(list)
    by_family: defaultdict[str, list[HistoryQuery]] = defaultdict(list)
    for q in queries:
        by_child[q.child_id].append(q)
        if q.family_id is not None:
            by_family[q.family_id].append(q)
    histories: dict[UUID, TriageHistory] = {}
    for q in queries:
        base = stored.get(q.event_id, TriageHistory())
        related = by_child[q.child_id] + (by_family[q.family_id] if q.family_id else [])
        others = {o.incident_at for o in related if o.event_id != q.event_id}
        times = set(base.incidents_at) | others
        histories[q.event_id] = TriageHistory(
            incidents_at=tuple(sorted(times)),
            open_cp_plan=base.open_cp_plan,
            open_case_team=base.open_case_team,
        )
    return histories


@dataclass
class _Batch:
    """Dead letters and the de-duplicated events of one batch, keyed by event id."""

    consumer_group: str
    failed_at: datetime
    dead: list[OutRecord]

    def reject(self, origin: Origin, rejected: Rejected) -> None:
        letter = dead_letter_for(
            origin,
            rejected.reason,
            rejected.error,
            consumer_group=self.consumer_group,
            failed_at=self.failed_at,
        )
        self.dead.append(letter.record())
        log.warning(
            "screening_event_deadlettered",
            reason=rejected.reason.value,
            error_class=letter.exception_class,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
        )


@dataclass
class TriageHandler:
    store: ScreeningStore
    publisher: Publisher
    rules: RuleSet
    deadline: CalendarDue
    in_office_hours: Callable[[datetime], bool]
    consumer_group: str
    clock: Callable[[], datetime]

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        now = self.clock()
        batch = _Batch(self.consumer_group, now, [])
        fresh: dict[UUID, tuple[Contact, Origin]] = {}
        duplicates = 0
        for origin in records:
            decoded = decode_contact(origin.value)
            if isinstance(decoded, Rejected):
                batch.reject(origin, decoded)
            elif decoded.event_id in fresh:
                duplicates += 1
            else:
                fresh[decoded.event_id] = (decoded, origin)

        queries = [
            HistoryQuery(e.event_id, e.subject.child_id, e.subject.family_id, incident_moment(e))
            for e, _ in fresh.values()
        ]
        known = await self.store.known(TRIAGE_CONSUMER, queries)
        for event_id in known.processed:
            contact, origin = fresh.pop(event_id)
            duplicates += 1
            _log_contact("screening_event_duplicate", contact, origin)
        histories = with_batch_incidents(queries, known.histories)
        done: list[tuple[Triaged, Origin]] = []
        out: list[OutRecord] = []
        for event_id, (contact, origin) in fresh.items():
            try:
                result = self._triage(contact, histories[event_id])
            except Exception as exc:  # a pure, deterministic failure: retrying cannot help
                batch.reject(origin, Rejected(DeadLetterReason.PROCESSING, exc))
                continue
            published = triaged_event(contact, result, at=now)
            out.append(event_record(CASEWORK.name, published))
            if result.crisis:
                out.append(event_record(CRISIS.name, crisis_event(contact, result, at=now)))
            done.append((Triaged(contact, result, published), origin))

        await self.publisher.publish([*batch.dead, *out])
        await self.store.record_triage(TRIAGE_CONSUMER, [t for t, _ in done])
        for t, origin in done:
            _log_contact(
                "screening_triaged",
                t.contact,
                origin,
                priority=t.result.priority.value,
                route=t.result.route.kind.value,
                crisis=t.result.crisis,
                operation_encompass=t.result.starts_operation_encompass,
            )
        return BatchOutcome(
            done=len(done),
            duplicates=duplicates,
            dead_lettered=len(batch.dead),
            crises=sum(1 for t, _ in done if t.result.crisis),
        )

    def _triage(self, contact: Contact, history: TriageHistory) -> TriageResult:
        facts = triage_input_from_event(contact, history)
        return triage(
            facts,
            self.rules,
            calendar_due=self.deadline,
            out_of_hours=not self.in_office_hours(facts.received_at),
        )


@dataclass
class DecisionHandler:
    store: ScreeningStore
    publisher: Publisher
    consumer_group: str
    clock: Callable[[], datetime]

    async def handle_batch(self, records: Sequence[Origin]) -> BatchOutcome:
        batch = _Batch(self.consumer_group, self.clock(), [])
        fresh: dict[UUID, tuple[ScreeningDecisionRecorded, Origin]] = {}
        ignored = duplicates = 0
        for origin in records:
            decoded = decode_decision(origin)
            if decoded is None:
                ignored += 1
            elif isinstance(decoded, Rejected):
                batch.reject(origin, decoded)
            elif decoded.event_id in fresh:
                duplicates += 1
            else:
                fresh[decoded.event_id] = (decoded, origin)

        for event_id in await self.store.processed(DECISION_CONSUMER, list(fresh)):
            del fresh[event_id]
            duplicates += 1
        await self.publisher.publish(batch.dead)
        await self.store.record_decisions(DECISION_CONSUMER, [d for d, _ in fresh.values()])
        for decision, origin in fresh.values():
            log.info(
                "screening_decision_recorded",
                event_id=str(decision.event_id),
                contact_id=str(decision.payload.contact_id),
                child_id=decision.subject.child_id,
                decision=decision.payload.decision.value,
                partition=origin.partition,
                offset=origin.offset,
            )
        return BatchOutcome(
            done=len(fresh),
            duplicates=duplicates,
            dead_lettered=len(batch.dead),
            ignored=ignored,
        )


def _log_contact(name: str, contact: Contact, origin: Origin, **extra: object) -> None:
    log.info(
        name,
        event_id=str(contact.event_id),
        event_type=contact.event_type,
        child_id=contact.subject.child_id,
        partition=origin.partition,
        offset=origin.offset,
        **extra,
    )
