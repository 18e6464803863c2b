"""What the SLA service says about a clock: the ``sla.*`` events, their ids and their records.

Every announcement's ``event_id`` is ``uuid5(timer_id, transition)`` (``started``, ``warning``,
``breached``, ``met``, ``cancelled``): a clock makes each transition at most once, so a retry,
a redelivery or a relay that died after sending sends the same id again and consumers drop the
repeat. The content is deterministic too — ``occurred_at`` is the transition's own moment, not the
time the worker happened to run. Every announcement reaches Kafka through the transactional
outbox, written in the transaction that records the transition: started, met and cancelled by
the lifecycle handler (``unit.emit``), warnings and breaches by the scanner. A breach the handler
records itself (a late meet or cancel) is *scheduled* instead (an `OutboxEntry` in
``sla_outbox``): it is released into the outbox no earlier than its own moment. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import orjson

from schemas.envelope import Agency, EventBase
from schemas.events.sla import SlaBreached, SlaCancelled, SlaMet, SlaStarted, SlaWarning, TimerKind
from schemas.topics import SLA
from services.common.publishing import OutRecord, event_record
from services.sla.domain.policies import Policies, PolicyError
from services.sla.domain.timers import Timer

SYSTEM = "frontdoor-sla"


@dataclass(frozen=True)
class Cause:
    """The event that caused a transition (None for the scanner's warnings and breaches)."""

    event_id: UUID
    correlation_id: UUID | None


@dataclass(frozen=True)
class OutboxEntry:
    """An announcement scheduled in a transition's transaction, released at ``available_at``."""

    event_id: UUID
    timer_id: UUID
    event_type: str
    record: OutRecord
    available_at: datetime


def announcement_id(timer_id: UUID, transition: str) -> UUID:
    """The deterministic id of a clock's `transition` announcement."""
    return uuid5(timer_id, transition)


def check_policy_kinds(policy: Policies) -> None:
    """Refuse a policy whose clocks the ``sla.*`` contract cannot name (fail at start-up)."""
    known = {k.value for k in TimerKind}
    unknown = sorted(set(policy.kinds) - known)
    if unknown:
        raise PolicyError(
            f"policy {policy.name} defines timer kinds the sla.* events do not know: "
            f"{', '.join(unknown)} (add them to schemas/events/sla.py TimerKind)"
        )


def _terms(timer: Timer, team: str | None) -> dict[str, Any]:
    return {
        "timer_id": timer.timer_id,
        "kind": timer.kind,
        "policy": timer.policy,
        "started_at": timer.started_at,
        "due_at": timer.due_at,
        "anchor_id": timer.anchor_id,
        "team": team,
    }


def _event(
    timer: Timer,
    transition: str,
    at: datetime,
    cause: Cause | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The announcement as plain data: validated by its model in one pass."""
    return {
        "event_id": announcement_id(timer.timer_id, transition),
        "event_type": f"sla.{transition}",
        "schema_version": 1,
        "occurred_at": at,
        "source": {"agency": Agency.SOCIAL_CARE, "system": SYSTEM, "ref": str(timer.timer_id)},
        "subject": {"child_id": timer.child_id},
        "correlation_id": None if cause is None else cause.correlation_id or cause.event_id,
        "causation_id": None if cause is None else cause.event_id,
        "payload": payload,
    }


def started(timer: Timer, *, team: str | None, cause: Cause | None) -> SlaStarted:
    payload = _terms(timer, team)
    return SlaStarted.model_validate(_event(timer, "started", timer.started_at, cause, payload))


def met(timer: Timer, *, team: str | None, cause: Cause | None) -> SlaMet:
    if timer.met_at is None:
        raise ValueError(f"timer {timer.timer_id} is not met")
    payload = {**_terms(timer, team), "met_at": timer.met_at, "late": timer.late}
    return SlaMet.model_validate(_event(timer, "met", timer.met_at, cause, payload))


def cancelled(timer: Timer, *, team: str | None, cause: Cause | None, reason: str) -> SlaCancelled:
    if timer.cancelled_at is None:
        raise ValueError(f"timer {timer.timer_id} is not cancelled")
    payload = {**_terms(timer, team), "cancelled_at": timer.cancelled_at, "reason": reason}
    return SlaCancelled.model_validate(
        _event(timer, "cancelled", timer.cancelled_at, cause, payload)
    )


def warning(timer: Timer, *, team: str | None) -> SlaWarning:
    if timer.warned_at is None:
        raise ValueError(f"timer {timer.timer_id} has not been warned")
    payload = {**_terms(timer, team), "warned_at": timer.warned_at}
    return SlaWarning.model_validate(_event(timer, "warning", timer.warned_at, None, payload))


def breached(timer: Timer, *, team: str | None, cause: Cause | None = None) -> SlaBreached:
    if timer.breached_at is None:
        raise ValueError(f"timer {timer.timer_id} has not breached")
    payload = {**_terms(timer, team), "breached_at": timer.breached_at}
    return SlaBreached.model_validate(_event(timer, "breached", timer.breached_at, cause, payload))


def scanner_entry(timer: Timer, *, team: str | None) -> OutboxEntry:
    """The outbox row for a clock the scanner just warned or breached — the hot path.

    The same event `warning` / `breached` build, serialised straight from plain data with orjson
    instead of through the pydantic model (a backlog of thousands of clocks falls due at once);
    the unit tests hold it to the model, field for field, for both kinds.
    """
    if timer.breached_at is not None and timer.status.value == "breached":
        transition, at, extra = "breached", timer.breached_at, "breached_at"
    elif timer.warned_at is not None:
        transition, at, extra = "warning", timer.warned_at, "warned_at"
    else:
        raise ValueError(f"timer {timer.timer_id} was neither warned nor breached")
    data = _event(timer, transition, at, None, {**_terms(timer, team), extra: at})
    data["source"]["agency"] = Agency.SOCIAL_CARE.value
    data["payload"]["timer_id"] = str(timer.timer_id)  # asyncpg's UUID type is not orjson's
    value = orjson.dumps(data, option=orjson.OPT_UTC_Z)
    return OutboxEntry(
        event_id=data["event_id"],
        timer_id=timer.timer_id,
        event_type=data["event_type"],
        record=OutRecord(
            SLA.name,
            timer.child_id.encode(),
            value,
            [("event_type", data["event_type"].encode())],
            event_id=data["event_id"],
            event_type=data["event_type"],
        ),
        available_at=at,
    )


def outbox_entry(timer: Timer, event: EventBase) -> OutboxEntry:
    """An outbox row for a warning or breach: relayed no earlier than its own moment."""
    return OutboxEntry(
        event_id=event.event_id,
        timer_id=timer.timer_id,
        event_type=event.event_type,
        record=event_record(SLA.name, event),
        available_at=event.occurred_at,
    )
