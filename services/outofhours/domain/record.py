"""The night's record: the crisis items and the actions of one out-of-hours shift.

A ``CrisisItem`` is one ``crisis.raised`` (from screening or from this service), with whether and
when the duty worker acknowledged it: an ``ooh.action_recorded`` whose ``causation_id`` is the
crisis event (or the event that triggered it) answers the item. An ``ActionEntry`` is one
recorded action. The watch view lists unacknowledged items first, most urgent and longest
waiting first (``duty_order``); the handover groups items and actions per child, most urgent
first. ``ShiftedAction``, ``ShiftedCrisis`` and
``CrisisStreamBatch`` are what a batch of the two streams writes into the record: each event with
the shift it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.codes import Urgency
from schemas.events.outofhours import (
    OohActionKind,
    OohActionRecorded,
    OohHandoverAcknowledged,
    OohHandoverPublished,
)
from schemas.events.triage import CrisisRaised, CrisisReason
from services.outofhours.domain.shifts import Shift

URGENCY_RANK: dict[Urgency, int] = {
    Urgency.IMMEDIATE: 1,
    Urgency.TODAY: 2,
    Urgency.NEXT_WORKING_DAY: 3,
    Urgency.ROUTINE: 4,
}
"""1 = most urgent; stored beside every item and action so SQL can order by it."""


class CrisisItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    crisis_id: UUID
    child_id: str
    reason: CrisisReason
    urgency: Urgency
    explanation: str
    trigger_event_id: UUID
    trigger_event_type: str
    happened_at: datetime
    raised_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class ActionEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    action_id: UUID
    child_id: str
    action_at: datetime
    kind: OohActionKind
    urgency: Urgency
    summary: str
    decision_reason: str
    worker: str
    crisis_id: UUID | None = None


class NightRecord(BaseModel):
    """Everything of one shift: its crisis items and its actions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shift: Shift
    items: tuple[CrisisItem, ...] = ()
    actions: tuple[ActionEntry, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.items and not self.actions


def watch_order(items: list[CrisisItem]) -> list[CrisisItem]:
    """Most urgent first; within an urgency, the newest first (ties by event id, stable)."""
    return sorted(
        items,
        key=lambda i: (URGENCY_RANK[i.urgency], -i.happened_at.timestamp(), str(i.event_id)),
    )


def duty_order(items: list[CrisisItem], *, newest_first: bool = False) -> list[CrisisItem]:
    """The watch screen's order, what the duty worker must answer first: every unacknowledged
    item before the acknowledged ones; among them the most urgent first and, within an urgency,
    the one waiting longest first — so the crisis that has waited longest is never pushed off the
    screen. The toggle (``newest_first``) puts the newest first within an urgency instead.
    Acknowledged items follow, newest first. Ties by event id, so the order is stable."""
    sign = -1 if newest_first else 1

    def key(i: CrisisItem) -> tuple[int, int, float, str]:
        if i.acknowledged:
            return (1, URGENCY_RANK[i.urgency], -i.happened_at.timestamp(), str(i.event_id))
        return (0, URGENCY_RANK[i.urgency], sign * i.happened_at.timestamp(), str(i.event_id))

    return sorted(items, key=key)


def answers(causation_id: UUID | None, item: CrisisItem) -> bool:
    """Whether an action caused by ``causation_id`` answers (acknowledges) the item."""
    return causation_id is not None and causation_id in (item.event_id, item.trigger_event_id)


@dataclass(frozen=True)
class ShiftedAction:
    """An ``ooh.action_recorded`` and the shift its action happened in."""

    event: OohActionRecorded
    shift: Shift


@dataclass(frozen=True)
class ShiftedCrisis:
    """A ``crisis.raised``, the shift it belongs to and when its trigger happened."""

    event: CrisisRaised
    shift: Shift
    happened_at: datetime


@dataclass(frozen=True)
class CrisisStreamBatch:
    """What one batch of ``frontdoor.crisis`` adds to the night's record."""

    items: Sequence[ShiftedCrisis] = ()
    handovers: Sequence[OohHandoverPublished] = ()
    acknowledgements: Sequence[OohHandoverAcknowledged] = ()

    @property
    def empty(self) -> bool:
        return not (self.items or self.handovers or self.acknowledgements)
