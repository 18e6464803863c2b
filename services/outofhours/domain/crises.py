"""What cannot wait for the next working day: the casework events that become crisis items.

DOMAIN.md §4: the emergency duty team takes s47 matters, children in police protection, missing
children and the day teams' alerts. So, from ``frontdoor.casework``:

- ``police.protection_started`` — always (immediate: the 72-hour limit runs from its start);
- ``child.missing_reported`` — always (immediate at medium or high risk, else today);
- ``strategy_discussion.held`` — when held out of hours (flagged so, or held outside office hours),
  immediate when it started a section 47 enquiry;
- ``s47.started`` — when started out of hours (flagged so, or outside office hours), immediate;
- ``ooh.alert_raised`` — always: a day team's risk and contingency plan for tonight (today).

Red triage results out of hours are raised by screening, not here. Each crisis item carries a
reason code, an urgency and an explanation built from codes and times only (no narrative, no
personal data), plus the moment the triggering thing happened. ``crisis_event`` wraps it in a
``crisis.raised`` whose ids derive from the trigger's id, so a retry republishes the same ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict

from schemas.codes import Urgency
from schemas.envelope import Agency, EventBase, Source
from schemas.events.emergencies import ChildMissingReported, MissingRisk, PoliceProtectionStarted
from schemas.events.enquiries import S47Started, StrategyDiscussionHeld, StrategyOutcome
from schemas.events.outofhours import OohAlertRaised
from schemas.events.triage import CrisisRaised, CrisisRaisedPayload, CrisisReason
from services.common.calendar import add_hours, to_london

OOH_NAMESPACE = UUID("0b7c4a52-3f7e-5d2a-9e61-5c3f0a8d17b4")
"""The uuid5 namespace of every id the out-of-hours service derives."""

SYSTEM = "frontdoor-outofhours"
POLICE_PROTECTION_HOURS = 72
EXPLANATION_LIMIT = 2000
"""The contract's limit (``schemas.events.triage.Explanation``); these texts stay far below it."""

CRISIS_TRIGGER_TYPES = frozenset(
    {
        "police.protection_started",
        "child.missing_reported",
        "strategy_discussion.held",
        "s47.started",
        "ooh.alert_raised",
    }
)

OutOfHoursTest = Callable[[datetime], bool]
"""True when a moment is outside office hours (weekday evenings, weekends, bank holidays)."""


class CrisisCall(BaseModel):
    """Why an event is a crisis item: reason code, urgency, explanation, when it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: CrisisReason
    urgency: Urgency
    explanation: str
    happened_at: datetime


def derived_id(kind: str, source_event_id: UUID) -> UUID:
    """The deterministic id of what this service emits for one source event."""
    return uuid5(OOH_NAMESPACE, f"{kind}:{source_event_id}")


def _when(moment: datetime) -> str:
    return f"{to_london(moment):%a %d %b %H:%M}"


def _short(text: str) -> str:
    return text if len(text) <= EXPLANATION_LIMIT else text[: EXPLANATION_LIMIT - 1] + "…"


def _words(code: str) -> str:
    return code.replace("_", " ")


_MISSING_URGENCY = {
    MissingRisk.HIGH: Urgency.IMMEDIATE,
    MissingRisk.MEDIUM: Urgency.IMMEDIATE,
    MissingRisk.LOW: Urgency.TODAY,
    MissingRisk.NO_APPARENT_RISK: Urgency.TODAY,
}
_STRATEGY_URGENCY = {
    StrategyOutcome.SECTION_47: Urgency.IMMEDIATE,
    StrategyOutcome.SINGLE_ASSESSMENT: Urgency.TODAY,
    StrategyOutcome.NO_FURTHER_ACTION: Urgency.NEXT_WORKING_DAY,
}
_STRATEGY_OUTCOME = {
    StrategyOutcome.SECTION_47: "section 47 enquiry",
    StrategyOutcome.SINGLE_ASSESSMENT: "single assessment",
    StrategyOutcome.NO_FURTHER_ACTION: "no further action",
}


def _police_protection(event: PoliceProtectionStarted, _: OutOfHoursTest) -> CrisisCall:
    started = event.payload.started_at
    limit = add_hours(started, POLICE_PROTECTION_HOURS)
    return CrisisCall(
        reason=CrisisReason.POLICE_PROTECTION,
        urgency=Urgency.IMMEDIATE,
        explanation=_short(
            f"Police protection since {_when(started)}; 72-hour limit {_when(limit)} "
            "(Children Act 1989 s46)"
        ),
        happened_at=started,
    )


def _missing(event: ChildMissingReported, _: OutOfHoursTest) -> CrisisCall:
    p = event.payload
    return CrisisCall(
        reason=CrisisReason.MISSING_CHILD,
        urgency=_MISSING_URGENCY[p.risk],
        explanation=_short(
            f"Missing from {_words(p.missing_from)}, {_words(p.risk)} risk; "
            f"last seen {_when(p.last_seen_at)}, reported {_when(p.reported_at)}"
        ),
        happened_at=p.reported_at,
    )


def _strategy(event: StrategyDiscussionHeld, out_of_hours: OutOfHoursTest) -> CrisisCall | None:
    sd = event.payload
    if not (sd.held_out_of_hours or out_of_hours(sd.held_at)):
        return None
    return CrisisCall(
        reason=CrisisReason.OUT_OF_HOURS_STRATEGY,
        urgency=_STRATEGY_URGENCY[sd.outcome],
        explanation=_short(
            f"Strategy discussion held out of hours ({_when(sd.held_at)}); "
            f"outcome: {_STRATEGY_OUTCOME[sd.outcome]}"
        ),
        happened_at=sd.held_at,
    )


def _s47(event: S47Started, out_of_hours: OutOfHoursTest) -> CrisisCall | None:
    s47 = event.payload
    if not (s47.held_out_of_hours or out_of_hours(s47.started_at)):
        return None
    return CrisisCall(
        reason=CrisisReason.OUT_OF_HOURS_STRATEGY,
        urgency=Urgency.IMMEDIATE,
        explanation=_short(
            f"Section 47 enquiry started out of hours ({_when(s47.started_at)}); ICPC clock running"
        ),
        happened_at=s47.started_at,
    )


def _alert(event: OohAlertRaised, _: OutOfHoursTest) -> CrisisCall:
    alert = event.payload
    until = f" until {_when(alert.expires_at)}" if alert.expires_at else ""
    return CrisisCall(
        reason=CrisisReason.OOH_ALERT,
        urgency=Urgency.TODAY,
        explanation=_short(
            f"Alert from {alert.team} ({_when(alert.raised_at)}): risk and contingency "
            f"plan for out of hours{until}"
        ),
        happened_at=alert.raised_at,
    )


_RULES: dict[type[EventBase], Callable[[Any, OutOfHoursTest], CrisisCall | None]] = {
    PoliceProtectionStarted: _police_protection,
    ChildMissingReported: _missing,
    StrategyDiscussionHeld: _strategy,
    S47Started: _s47,
    OohAlertRaised: _alert,
}


def crisis_call(event: EventBase, *, out_of_hours: OutOfHoursTest) -> CrisisCall | None:
    """The crisis item an event raises, or ``None`` when it can wait for the day team."""
    rule = _RULES.get(type(event))
    return rule(event, out_of_hours) if rule is not None else None


def crisis_event(trigger: EventBase, call: CrisisCall, *, at: datetime) -> CrisisRaised:
    """The ``crisis.raised`` for a trigger event; its ids derive from the trigger's id."""
    return CrisisRaised(
        event_id=derived_id("crisis.raised", trigger.event_id),
        event_type="crisis.raised",
        schema_version=1,
        occurred_at=at,
        source=Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(trigger.event_id)),
        subject=trigger.subject,
        correlation_id=trigger.correlation_id or trigger.event_id,
        causation_id=trigger.event_id,
        payload=CrisisRaisedPayload(
            crisis_id=derived_id("crisis", trigger.event_id),
            raised_at=at,
            reason=call.reason,
            urgency=call.urgency,
            explanation=call.explanation,
            trigger_event_id=trigger.event_id,
            trigger_event_type=trigger.event_type,
            trigger_at=call.happened_at,
        ),
    )
