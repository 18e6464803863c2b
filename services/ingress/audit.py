"""The audit trail of partner ingress: one entry per request, whatever its answer.

An entry says who (agency and credential id — the id the caller claimed, for a failed
authentication), from where (client address), when, what was answered (status, outcome, problem
code) and which event ids were accepted, rejected or left unconfirmed (they passed the checks but
could not be stored, so they were not confirmed) — never a payload, so the table holds no personal
data. ``AuditDraft`` collects those facts while a request is handled; ``ports.AuditTrail`` is
where the entry goes (with the accepted events, in one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from services.ingress.domain.submission import EventRejected

ACCEPTED_STATUSES = (202, 207)


@dataclass(frozen=True)
class AuditEntry:
    """One row of ``ingress_audit``."""

    request_id: UUID
    received_at: datetime
    client_addr: str | None
    status: int
    outcome: str
    code: str | None = None
    agency: str | None = None
    credential_id: str | None = None
    events_received: int = 0
    accepted_ids: tuple[UUID, ...] = ()
    rejected_ids: tuple[UUID, ...] = ()
    unconfirmed_ids: tuple[UUID, ...] = ()
    events_rejected: int = 0
    body_bytes: int = 0
    duration_ms: float = 0.0


@dataclass
class AuditDraft:
    """What is known about a request so far."""

    request_id: UUID
    received_at: datetime
    client_addr: str | None
    agency: str | None = None
    credential_id: str | None = None
    events_received: int = 0
    body_bytes: int = 0
    accepted: list[UUID] = field(default_factory=list)
    unconfirmed: list[UUID] = field(default_factory=list)
    rejected: list[EventRejected] = field(default_factory=list)

    def entry(self, status: int, code: str | None, *, duration_ms: float) -> AuditEntry:
        accepted = tuple(self.accepted) if status in ACCEPTED_STATUSES else ()
        if status >= 500:
            outcome = "failed"
        elif accepted:
            outcome = "partially_accepted" if status == 207 else "accepted"
        else:
            outcome = "rejected"
        return AuditEntry(
            request_id=self.request_id,
            received_at=self.received_at,
            client_addr=self.client_addr,
            status=status,
            outcome=outcome,
            code=code,
            agency=self.agency,
            credential_id=self.credential_id,
            events_received=self.events_received,
            accepted_ids=accepted,
            rejected_ids=tuple(r.event_id for r in self.rejected if r.event_id is not None),
            unconfirmed_ids=tuple(self.unconfirmed),
            events_rejected=len(self.rejected),
            body_bytes=self.body_bytes,
            duration_ms=round(duration_ms, 3),
        )
