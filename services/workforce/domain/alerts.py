"""The allocation alerts as events: their stable ids and the record the team manager gets.

Invariant: an alert's id is a function of the allocation's event id and the rule alone, so
deciding an allocation's alerts again (a fuller history, a redelivery, a rebuild) names the same
alert and raises it at most once.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from schemas.envelope import Agency, Source, Subject
from schemas.events.workforce import AlertRule, WorkforceAlertPayload, WorkforceAlertRaised
from services.workforce.domain.caseload import Allocated, AllocationCheck

ALERT_NAMESPACE = uuid.UUID("0b7f3c1e-5a2d-5e4f-8c19-3d6a7b2e9f10")
SYSTEM = "frontdoor-workforce"


def alert_id(allocation_event_id: UUID, rule: AlertRule) -> UUID:
    return uuid.uuid5(ALERT_NAMESPACE, f"{allocation_event_id}:{rule.value}")


def alert_raised(
    a: Allocated,
    rule: AlertRule,
    check: AllocationCheck,
    *,
    profile: str,
    manager_id: str | None,
    correlation_id: UUID | None,
) -> WorkforceAlertRaised:
    """``rule``'s alert on allocation ``a``, at the allocation's own time."""
    return WorkforceAlertRaised(
        event_id=alert_id(a.event_id, rule),
        event_type="workforce.alert_raised",
        schema_version=1,
        occurred_at=a.allocated_at,
        source=Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(a.event_id)),
        subject=Subject(child_id=a.allocation.child_id),
        causation_id=a.event_id,
        correlation_id=correlation_id,
        payload=WorkforceAlertPayload(
            rule=rule,
            team_id=a.team_id,
            manager_id=manager_id,
            worker_id=a.allocation.worker_id,
            allocation_event_id=a.event_id,
            raised_at=a.allocated_at,
            profile=profile,
            points=check.points_after,
            cap=check.cap,
        ),
    )
