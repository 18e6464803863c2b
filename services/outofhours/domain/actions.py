"""What the duty worker does from the watch view: acknowledge an item, record an action on it.

Both are an ``ooh.action_recorded`` from the ``ooh`` agency, published to ``partner.events`` like
any partner's event (intake validates, records and routes it), so the night's record, the
handover and every other watch learn of it the same way. ``causation_id`` is the crisis event the
action answers; that link is what marks the item acknowledged. The action's urgency is the
item's; the kind defaults from the item's reason. Ids and the clock are passed in.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from schemas.envelope import Agency, Source, Subject
from schemas.events.outofhours import OohActionKind, OohActionRecorded, OohActionRecordedPayload
from schemas.events.triage import CrisisReason
from services.outofhours.domain.record import CrisisItem

WATCH_SYSTEM = "frontdoor-ooh-watch"
ACKNOWLEDGED_REASON = "Acknowledged by the out-of-hours worker on duty; decisions follow."

KIND_FOR_REASON: dict[CrisisReason, OohActionKind] = {
    CrisisReason.POLICE_PROTECTION: OohActionKind.POLICE_PROTECTION,
    CrisisReason.MISSING_CHILD: OohActionKind.MISSING_CHILD,
    CrisisReason.OUT_OF_HOURS_STRATEGY: OohActionKind.STRATEGY_DISCUSSION,
    CrisisReason.RED_TRIAGE: OohActionKind.WELFARE_CHECK,
    CrisisReason.HIGH_RISK_DOMESTIC_ABUSE: OohActionKind.WELFARE_CHECK,
    CrisisReason.OOH_ALERT: OohActionKind.OTHER,
    CrisisReason.OTHER: OohActionKind.OTHER,
}


def action_on(
    item: CrisisItem,
    *,
    summary: str,
    decision_reason: str,
    worker: str,
    at: datetime,
    event_id: UUID,
    action_id: UUID,
    kind: OohActionKind | None = None,
) -> OohActionRecorded:
    """An action the duty worker took about a crisis item, with the reasons for the decision."""
    return OohActionRecorded(
        event_id=event_id,
        event_type="ooh.action_recorded",
        schema_version=1,
        occurred_at=at,
        source=Source(agency=Agency.OOH, system=WATCH_SYSTEM, ref=str(action_id)),
        subject=Subject(child_id=item.child_id),
        causation_id=item.event_id,
        payload=OohActionRecordedPayload(
            action_id=action_id,
            action_at=at,
            kind=kind or KIND_FOR_REASON[item.reason],
            urgency=item.urgency,
            summary=summary,
            decision_reason=decision_reason,
            worker=worker,
        ),
    )


def acknowledgement_of(
    item: CrisisItem, *, worker: str, at: datetime, event_id: UUID, action_id: UUID
) -> OohActionRecorded:
    """The duty worker has seen the item: an action of kind ``acknowledged``."""
    return action_on(
        item,
        summary=f"Acknowledged: {item.explanation}",
        decision_reason=ACKNOWLEDGED_REASON,
        worker=worker,
        at=at,
        event_id=event_id,
        action_id=action_id,
        kind=OohActionKind.ACKNOWLEDGED,
    )
