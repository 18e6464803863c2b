"""The out-of-hours handover: every item and action of a night, per child, most urgent first.

DOMAIN.md §4: everything done out of hours is handed to the day team by 09:00 the next working
day, most urgent first, with the reasons for decisions. ``handover_parts`` groups the night's
record per child and ranks the children: by the most urgent item or action, then children with an
item nobody acknowledged, then the earliest moment. ``handover_events`` turns the parts into one
``ooh.handover_published`` per child, all sharing the night's ``handover_id`` and due at the
shift's end. A part's event id derives from the night, the child and what the part contains, so
publishing the same handover twice publishes the same ids (consumers drop the repeat) and a
handover republished after something new happened gets new ids. ``acknowledgement_event`` is the
day team's ``ooh.handover_acknowledged`` for one child's part (it meets the ``ooh_handover`` clock).
``night_to_hand_over`` picks the night when none is named: the one owed now if anything happened
in it, else the most recent night with activity before it (a replayed or quiet history still has
a handover to show).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict

from schemas.codes import Urgency
from schemas.envelope import Agency, Source, Subject
from schemas.events.outofhours import (
    HandoverAction,
    HandoverCrisis,
    OohHandoverAcknowledged,
    OohHandoverAcknowledgedPayload,
    OohHandoverPublished,
    OohHandoverPublishedPayload,
)
from services.outofhours.domain.crises import OOH_NAMESPACE, SYSTEM
from services.outofhours.domain.record import (
    URGENCY_RANK,
    ActionEntry,
    CrisisItem,
    NightRecord,
    watch_order,
)
from services.outofhours.domain.shifts import Shift, ShiftOf


class PartStatus(BaseModel):
    """One child's published handover part and the day team's acknowledgement of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    child_id: str
    rank: int
    published_at: datetime
    event_ids: frozenset[UUID]
    acknowledged_at: datetime | None = None


class HandoverPart(BaseModel):
    """One child's part of the handover."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank: int
    child_id: str
    urgency: Urgency
    items: tuple[CrisisItem, ...]
    actions: tuple[ActionEntry, ...]

    @property
    def unacknowledged(self) -> int:
        return sum(1 for i in self.items if not i.acknowledged)


def handover_id_for(shift: Shift) -> UUID:
    """The id every part of one night's handover shares."""
    return uuid5(OOH_NAMESPACE, f"handover:{shift.starts_at.isoformat()}")


def _most_urgent(urgencies: list[Urgency]) -> Urgency:
    return min(urgencies, key=URGENCY_RANK.__getitem__)


def _urgencies(items: list[CrisisItem], actions: list[ActionEntry]) -> list[Urgency]:
    return [i.urgency for i in items] + [a.urgency for a in actions]


def handover_parts(record: NightRecord) -> list[HandoverPart]:
    """The night's record per child, ranked 1 = most urgent."""
    items: defaultdict[str, list[CrisisItem]] = defaultdict(list)
    actions: defaultdict[str, list[ActionEntry]] = defaultdict(list)
    for item in record.items:
        items[item.child_id].append(item)
    for action in record.actions:
        actions[action.child_id].append(action)

    def sort_key(child: str) -> tuple[int, int, float, str]:
        urgencies = _urgencies(items[child], actions[child])
        moments = [i.happened_at for i in items[child]] + [a.action_at for a in actions[child]]
        waiting = any(not i.acknowledged for i in items[child])
        return (
            URGENCY_RANK[_most_urgent(urgencies)],
            0 if waiting else 1,
            min(moments).timestamp(),
            child,
        )

    children = sorted(set(items) | set(actions), key=sort_key)
    return [
        HandoverPart(
            rank=rank,
            child_id=child,
            urgency=_most_urgent(_urgencies(items[child], actions[child])),
            items=tuple(watch_order(items[child])),
            actions=tuple(
                sorted(actions[child], key=lambda a: (URGENCY_RANK[a.urgency], a.action_at))
            ),
        )
        for rank, child in enumerate(children, start=1)
    ]


def _content_name(shift: Shift, part: HandoverPart) -> str:
    items = sorted(f"{i.event_id}@{i.acknowledged_at}" for i in part.items)
    actions = sorted(str(a.event_id) for a in part.actions)
    return f"handover:{shift.starts_at.isoformat()}:{part.child_id}:{items}:{actions}"


def handover_events(record: NightRecord, *, team: str, at: datetime) -> list[OohHandoverPublished]:
    """One ``ooh.handover_published`` per child of the night, in rank order."""
    shift = record.shift
    handover_id = handover_id_for(shift)
    events = []
    for part in handover_parts(record):
        events.append(
            OohHandoverPublished(
                event_id=uuid5(OOH_NAMESPACE, _content_name(shift, part)),
                event_type="ooh.handover_published",
                schema_version=1,
                occurred_at=at,
                source=Source(agency=Agency.OOH, system=SYSTEM, ref=str(handover_id)),
                subject=Subject(child_id=part.child_id),
                correlation_id=handover_id,
                payload=OohHandoverPublishedPayload(
                    handover_id=handover_id,
                    shift_started_at=shift.starts_at,
                    shift_ended_at=shift.ends_at,
                    due_by=shift.ends_at,
                    rank=part.rank,
                    urgency=part.urgency,
                    team=team,
                    actions=tuple(_action(a) for a in part.actions),
                    crises=tuple(_crisis(i) for i in part.items),
                ),
            )
        )
    return events


def _action(action: ActionEntry) -> HandoverAction:
    return HandoverAction(
        action_id=action.action_id,
        action_at=action.action_at,
        kind=action.kind,
        urgency=action.urgency,
        crisis_id=action.crisis_id,
        worker=action.worker,
        summary=action.summary,
        decision_reason=action.decision_reason,
    )


def _crisis(item: CrisisItem) -> HandoverCrisis:
    return HandoverCrisis(
        crisis_id=item.crisis_id,
        raised_at=item.raised_at,
        reason=item.reason,
        urgency=item.urgency,
        explanation=item.explanation,
        trigger_event_type=item.trigger_event_type,
        acknowledged_at=item.acknowledged_at,
    )


def acknowledgement_event(
    handover_id: UUID, child_id: str, *, team: str, worker: str, at: datetime
) -> OohHandoverAcknowledged:
    """The day team's acknowledgement of one child's part (one id per night and child)."""
    return OohHandoverAcknowledged(
        event_id=uuid5(OOH_NAMESPACE, f"handover-acknowledged:{handover_id}:{child_id}"),
        event_type="ooh.handover_acknowledged",
        schema_version=1,
        occurred_at=at,
        source=Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(handover_id)),
        subject=Subject(child_id=child_id),
        correlation_id=handover_id,
        payload=OohHandoverAcknowledgedPayload(
            handover_id=handover_id, acknowledged_at=at, team=team, worker=worker
        ),
    )


def night_to_hand_over(
    owed: Shift, latest_active_start: datetime | None, shift_of: ShiftOf
) -> Shift:
    """The night ``frontdoor ooh handover`` shows when no ``--night`` is given.

    ``owed`` is the shift whose handover is due now; ``latest_active_start`` the start of the
    latest shift, not after ``owed``, with any item or action recorded. The owed night when it had
    activity (or nothing was ever recorded); otherwise the most recent night with activity.
    """
    if latest_active_start is None or latest_active_start >= owed.starts_at:
        return owed
    return shift_of(latest_active_start)
