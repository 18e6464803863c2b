"""The conferences use case: a batch of casework events updates conferences, plans and invitations.

The pipeline (``services/common/pipeline.py``) has already decoded and validated each
``frontdoor.casework`` record, kept only the types this service reads (``HANDLED_EVENT_TYPES``)
and claimed the fresh ones in ``processed_events``, all inside the batch's one transaction. What
is left is the conferences service's own: lock and load the batch's children (with the referrals
the events name), apply the events in order (`apply_event`), save the records they changed and
the invitations they issued, and emit each invitation to the invited agency's inbox with a copy
on ``frontdoor.conferences``. The emitted records go to the outbox in the same transaction and are
relayed after the commit, so no broker round trip is awaited while the children's rows are
locked. Invitations carry deterministic ids, so a replay of the same history issues the same ids.

An event that breaks a rule of the child's record (`InvariantViolation`) is rejected — a
``validation`` dead letter with a message a data officer can act on; it changes nothing and is not
marked processed, so it can be replayed once the record is corrected. Any other failure (a date
the working-day calendar does not cover, say) is left to the pipeline, which isolates the record
and dead-letters it as ``processing`` while the rest of the batch proceeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.events.conferences import ConferenceInvitationIssued
from schemas.topics import CONFERENCES, agency_inbox
from services.common.calendar import WorkingCalendar
from services.common.pipeline import Delivery, Unit
from services.common.publishing import OutRecord, event_record
from services.conferences.domain.invariants import InvariantViolation
from services.conferences.domain.processing import apply_event, referrals_named
from services.conferences.domain.rules import ConferenceRules
from services.conferences.ports import BatchWrite, ChildWrite, StoreFor


def invitation_records(invitation: ConferenceInvitationIssued) -> list[OutRecord]:
    """The invitation on the invited agency's inbox, and its copy on ``frontdoor.conferences``."""
    return [
        event_record(agency_inbox(invitation.payload.agency).name, invitation),
        event_record(CONFERENCES.name, invitation),
    ]


@dataclass(frozen=True)
class ConferenceHandler:
    store_for: StoreFor
    rules: ConferenceRules
    calendar: WorkingCalendar

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self.store_for(unit.connection)
        events = [d.event for d in deliveries]
        child_ids = sorted({e.subject.child_id for e in events})
        before = await store.load(child_ids, referrals_named(events))
        after = dict(before)
        issued: list[ConferenceInvitationIssued] = []
        for d in deliveries:
            child_id = d.event.subject.child_id
            try:
                outcome = apply_event(
                    after[child_id], d.event, rules=self.rules, calendar=self.calendar
                )
            except InvariantViolation as exc:
                unit.reject(d, exc)
                continue
            after[child_id] = outcome.child
            issued.extend(outcome.issued)
            unit.note(d, action=outcome.action, invitations=len(outcome.issued))
        changed = [ChildWrite(before[c], after[c]) for c in child_ids if after[c] != before[c]]
        await store.save(BatchWrite(recorded_at=unit.now, children=changed, invitations=issued))
        for invitation in issued:
            for record in invitation_records(invitation):
                unit.emit(record)
