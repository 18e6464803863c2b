"""The ports partner ingress's use cases need: the audit trail (with the outbox) and the relay.

``AuditTrail`` is where a request's audit entry goes. A submission with accepted events is
``accept``ed: its audit row and one outbox row per accepted event commit in ONE PostgreSQL
transaction (the common outbox, ``services/common/migrations/001_pipeline.sql``), so a 202 holds
both or neither. Any other request is only ``record``ed. ``purge`` is the retention of
``ingress_audit`` (``retention.py``). ``Relayer`` sends committed outbox rows to the broker and
marks them relayed (``services.common.outbox.Relay``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from services.common.outbox import OutboxRow
from services.ingress.audit import AuditEntry

OUTBOX_PRODUCER = "ingress"
"""``outbox.producer`` of the rows ingress writes (the ledger unit's name)."""


class AuditTrail(Protocol):
    async def record(self, entry: AuditEntry) -> None:
        """The audit row of a request that accepted nothing."""
        ...

    async def accept(self, entry: AuditEntry, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
        """The audit row and the events' outbox rows in one transaction; the rows as stored."""
        ...

    async def purge(self, *, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` audit rows received before ``before``; how many went."""
        ...


class Relayer(Protocol):
    async def relay(self, rows: Sequence[OutboxRow]) -> None: ...
