"""Whose history a contact is triaged against, and the batch's own contacts added to it.

A contact is triaged against what the front door knew before it: the child's and household's earlier
incidents — police domestic-abuse notifications only, never school, health or other contacts
(DOMAIN.md §3, repeat incidents) — an open child protection plan, an open case. The adapter reads
that from PostgreSQL for a whole batch (``HistoryQuery`` per contact, as of its incident time); the
contacts of the batch itself are not stored yet, so ``with_batch_incidents`` adds them, and contacts
of one child or household in one batch still count each other. Pure.

"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.events.contacts import ContactReceived, PoliceDaNotification
from services.screening.domain.from_event import TriageHistory

Contact = ContactReceived | PoliceDaNotification
"""What screening triages: a general contact or a police domestic-abuse notification."""


@dataclass(frozen=True)
class HistoryQuery:
    """Whose history to read, and as of when: incidents before the contact's incident time, as
    received by the time the contact itself was (``known_at``: its ``contact_at``), so that the
    history is a function of the events, not of what happened to be processed first."""

    event_id: UUID
    child_id: str
    family_id: str | None
    incident_at: datetime
    known_at: datetime
    is_incident: bool = True
    """A police DA notification: the only kind of contact that counts as an incident."""

    @classmethod
    def of(cls, contact: Contact) -> HistoryQuery:
        return cls(
            contact.event_id,
            contact.subject.child_id,
            contact.subject.family_id,
            incident_moment(contact),
            contact.payload.contact_at,
            isinstance(contact, PoliceDaNotification),
        )


def incident_moment(contact: Contact) -> datetime:
    """When it happened: the DA incident, or the time a general contact was received."""
    if isinstance(contact, PoliceDaNotification):
        return contact.payload.incident_at
    return contact.payload.contact_at


def with_batch_incidents(
    queries: Sequence[HistoryQuery], stored: Mapping[UUID, TriageHistory]
) -> dict[UUID, TriageHistory]:
    """Each history plus the batch's other DA notifications for the same child or household.

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
        others = {
            o.incident_at
            for o in related
            if o.is_incident and o.event_id != q.event_id and o.known_at <= q.known_at
        }
        times = set(base.incidents_at) | others
        histories[q.event_id] = TriageHistory(
            incidents_at=tuple(sorted(times)),
            open_cp_plan=base.open_cp_plan,
            open_case_team=base.open_case_team,
        )
    return histories
