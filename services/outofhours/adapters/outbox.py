"""Announcing the handover through the common outbox: once per event id, relayed after commit.

The handover command, the automatic handover and a second replica all build the same part ids
for the same night (they derive from the parts' content), but each stamps its own publication
time. So that one id is never sent with two contents — which a consumer would rightly refuse as a
reused id — every announcement first *claims* its event id in the ledger under its own name
(``outofhours.handover``): only the claim that inserted the id enqueues the record, in the same
short transaction. After the commit the rows are relayed; a relay that fails (the broker away) is
left to the relay sweeper of any running worker. No Kafka round trip runs inside the
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from services.common.ledger import Claim, Ledger
from services.common.outbox import OutboxRow, Relay
from services.common.publishing import OutRecord

ANNOUNCER = "outofhours.handover"
"""The ledger name under which announcements are claimed (``processed_events.consumer``)."""


class OutboxAnnouncements:
    def __init__(self, ledger: Ledger, relay: Relay, *, name: str = ANNOUNCER) -> None:
        self._ledger = ledger
        self._relay = relay
        self._name = name

    async def send_once(self, records: Sequence[OutRecord]) -> set[UUID]:
        ids = [_event_id(r) for r in records]
        async with self._ledger.unit(self._name) as unit:
            # the id is the identity here, whatever the publication time: a second sender's
            # claim is a repeat, never a conflict
            claims = await unit.claim([(i, i.bytes) for i in dict.fromkeys(ids)])
            fresh = {i for i, c in claims.items() if c is Claim.FRESH}
            rows: dict[UUID, OutboxRow] = {}
            for record, event_id in zip(records, ids, strict=True):
                if event_id in fresh and event_id not in rows:
                    rows[event_id] = OutboxRow.of(
                        record, event_id=event_id, event_type=record.event_type
                    )
            stored = await unit.enqueue(list(rows.values()))
        await self._relay.relay_or_defer(stored, producer=self._name)
        return fresh


def _event_id(record: OutRecord) -> UUID:
    if record.event_id is None:
        raise ValueError(f"a record for {record.topic} carries no event id")
    return record.event_id
