"""Screening's two use cases: triage a batch of contacts; record a batch of screening decisions.

The pipeline (``services/common/pipeline.py``) has already decoded and validated every record,
dead-lettered what the contract refuses and claimed the batch's event ids, and it commits,
relays and isolates failures; what is left here is screening's own.

Triage, per batch of ``frontdoor.contacts`` events: refuse an event that does not belong on the
topic; read every child's history in one query and add the batch's own contacts to it (contacts
of one child in one batch count each other); triage each with the edition of the rules in force
on the contact's own date (``RuleBook.in_force``); emit
``screening.triaged`` to ``frontdoor.casework`` (and ``crisis.raised`` to ``frontdoor.crisis``
for a red result out of office hours), with ids derived from the contact's id; store the results.
A contact whose triage raises (a date the working-day calendar does not cover, say) is isolated
by the pipeline and becomes a ``processing`` dead letter.

Decisions: ``screening.decision_recorded`` on ``frontdoor.casework`` closes a screening. The
decision is stored beside the triage result, never replaced by it; the subscription wants no
other casework event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.events.casework import ScreeningDecisionRecorded
from schemas.events.contacts import ContactReceived, PoliceDaNotification
from schemas.topics import CASEWORK, CRISIS
from services.common.failures import RetryLaterError
from services.common.pipeline import Delivery, Unit
from services.common.publishing import event_record
from services.screening.domain.announcements import Triaged, crisis_event, triaged_event
from services.screening.domain.from_event import TriageHistory, triage_input_from_event
from services.screening.domain.history import Contact, HistoryQuery, with_batch_incidents
from services.screening.domain.rulebook import RuleBook
from services.screening.domain.rules import RuleSet
from services.screening.domain.triage import CalendarDue, TriageResult, triage
from services.screening.ports import StoreFor


class NotAContactError(ValueError):
    """A record on the contacts topic is a valid event of another type."""


class NotADecisionError(TypeError):
    """The decisions subscription was handed another type (its declaration wants only one)."""


class HistoryIncompleteError(RetryLaterError):
    """A contact's earlier history is still being recorded by intake; try the batch again."""


@dataclass
class TriageHandler:
    store_for: StoreFor
    rules: RuleBook | RuleSet
    """The editions by date (one rule set alone is in force for every date from its own)."""
    deadline: CalendarDue
    in_office_hours: Callable[[datetime], bool]
    horizon: Callable[[], datetime | None] = field(default=lambda: None)
    """Event time up to which the history is complete (``adapters/horizon.py``); ``None``:
    unknown."""
    history_wait_seconds: float = 0.0
    """How long a contact may be held for its history; 0 holds nothing."""
    monotonic: Callable[[], float] = field(default=time.monotonic)
    _held_since: dict[UUID, float] = field(default_factory=dict)
    _book: RuleBook = field(init=False)

    def __post_init__(self) -> None:
        rules = self.rules
        self._book = rules if isinstance(rules, RuleBook) else RuleBook.of([("rules", rules)])

    def _hold(self, contacts: Sequence[Contact]) -> None:
        """Raise while the history some contact needs is incomplete, within the wait limit."""
        if self.history_wait_seconds <= 0 or not contacts:
            return
        latest = max(c.payload.contact_at for c in contacts)
        horizon = self.horizon()
        if horizon is not None and latest < horizon:
            for c in contacts:
                self._held_since.pop(c.event_id, None)
            return
        now = self.monotonic()
        first = min(self._held_since.setdefault(c.event_id, now) for c in contacts)
        if now - first < self.history_wait_seconds:
            raise HistoryIncompleteError("earlier partner events are still being recorded")
        for c in contacts:
            self._held_since.pop(c.event_id, None)

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        contacts: list[tuple[Delivery, Contact]] = []
        for d in deliveries:
            event = d.event
            if isinstance(event, ContactReceived | PoliceDaNotification):
                contacts.append((d, event))
            else:
                unit.reject(
                    d, NotAContactError(f"{event.event_type} does not belong on the contacts topic")
                )
        if not contacts:
            return
        self._hold([c for _, c in contacts])
        store = self.store_for(unit.connection)
        queries = [HistoryQuery.of(c) for _, c in contacts]
        histories = with_batch_incidents(queries, await store.histories(queries))
        done: list[Triaged] = []
        for d, contact in contacts:
            result = self._triage(contact, histories[contact.event_id])
            # event time: automatic triage happens at receipt; processing time is only the
            # row's recorded_at, for latency (DESIGN.md "Event time")
            at = contact.payload.contact_at
            published = triaged_event(contact, result, at=at)
            unit.emit(event_record(CASEWORK.name, published))
            if result.crisis:
                unit.emit(event_record(CRISIS.name, crisis_event(contact, result, at=at)))
            done.append(Triaged(contact, result, published))
            unit.note(
                d,
                priority=result.priority.value,
                route=result.route.kind.value,
                crisis=result.crisis,
                operation_encompass=result.starts_operation_encompass,
            )
        await store.record_triage(done)

    def _triage(self, contact: Contact, history: TriageHistory) -> TriageResult:
        facts = triage_input_from_event(contact, history)
        return triage(
            facts,
            self._book.in_force(facts.received_at),
            calendar_due=self.deadline,
            out_of_hours=not self.in_office_hours(facts.received_at),
        )


@dataclass(frozen=True)
class DecisionHandler:
    store_for: StoreFor

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        decisions: list[ScreeningDecisionRecorded] = []
        for d in deliveries:
            event = d.event
            if not isinstance(event, ScreeningDecisionRecorded):
                raise NotADecisionError(f"{event.event_type} reached the decisions handler")
            decisions.append(event)
            unit.note(
                d, contact_id=str(event.payload.contact_id), decision=event.payload.decision.value
            )
        await self.store_for(unit.connection).record_decisions(decisions)
