"""The shipped policies speak the event contract: kinds, event types and field paths all exist.

A policy names event types and dotted field paths as data; this checks every one of them against
the pydantic models in `schemas/`, so a renamed payload field fails here rather than silently
never starting a clock. It also runs a real parsed event through the timer decision.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, Union, get_args, get_origin
from uuid import uuid4

import pytest
from pydantic import BaseModel

from schemas.envelope import EventBase
from schemas.events.sla import SlaTimerPayload, TimerKind
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES, latest_model, parse_event
from services.common.calendar import LONDON, WorkingCalendar
from services.sla.domain.lifecycle import apply_event
from services.sla.domain.policies import Policy
from services.sla.policies import load_policy, shipped_policy_names

NOT_YET_IN_THE_CONTRACT: frozenset[str] = frozenset()
"""Event types a policy waits for that schemas/ does not define yet (remove when it does)."""

POLICIES = [load_policy(name) for name in shipped_policy_names()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _path_exists(model: type[BaseModel], path: str) -> bool:
    current: type[BaseModel] | None = model
    for part in path.split("."):
        if current is None or part not in current.model_fields:
            return False
        current = _model_in(current.model_fields[part].annotation)
    return True


def _paths(policy: Policy) -> list[tuple[str, str, str]]:
    found = []
    for rule in policy.timers.values():
        for trigger in (*rule.start, *rule.stop, *rule.cancel):
            paths = [trigger.at, *(trigger.subject or ()), *trigger.anchor]
            paths += [condition.field for condition in trigger.when]
            found += [(rule.kind, trigger.event, path) for path in paths]
    return found


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_timer_kind_is_a_contract_timer_kind(policy: Policy) -> None:
    assert set(policy.kinds) <= {kind.value for kind in TimerKind}


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_trigger_event_type_is_in_the_contract(policy: Policy) -> None:
    known = INBOUND_TYPES | OUTBOUND_TYPES
    unknown = policy.event_types - known
    assert unknown <= NOT_YET_IN_THE_CONTRACT
    assert not NOT_YET_IN_THE_CONTRACT & known, "now in the contract: remove it from the list"


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_field_path_exists_on_its_event_model(policy: Policy) -> None:
    missing = [
        (kind, event, path)
        for kind, event, path in _paths(policy)
        if event not in NOT_YET_IN_THE_CONTRACT and not _path_exists(latest_model(event), path)
    ]
    assert missing == []


def test_sla_events_accept_every_shipped_policy_name() -> None:
    for policy in POLICIES:
        SlaTimerPayload.model_validate(
            {
                "timer_id": uuid4(),
                "kind": "icpc",
                "policy": policy.name,
                "started_at": datetime(2024, 6, 5, tzinfo=LONDON),
                "due_at": datetime(2024, 6, 26, tzinfo=LONDON),
            }
        )


def test_a_parsed_strategy_discussion_starts_the_icpc_clock_and_fills_an_sla_payload() -> None:
    strategy = uuid4()
    parsed: EventBase = parse_event(
        {
            "event_id": str(uuid4()),
            "event_type": "strategy_discussion.held",
            "schema_version": 1,
            "occurred_at": "2024-06-05T11:00:00+01:00",
            "source": {"agency": "social_care", "system": "mosaic", "ref": "SD-1"},
            "subject": {"child_id": "child-1"},
            "payload": {
                "strategy_id": str(strategy),
                "referral_id": str(uuid4()),
                "held_at": "2024-06-05T10:00:00+01:00",
                "agencies": ["police", "social_care"],
                "outcome": "section_47",
            },
        }
    )
    calendar = WorkingCalendar.england_and_wales(2024, 2025)
    (change,) = apply_event(load_policy("wt2013"), parsed, live_timers=[], calendar=calendar)
    timer = change.after
    assert timer.due_at.isoformat() == "2024-06-26T23:59:59+01:00"
    payload = SlaTimerPayload(
        timer_id=timer.timer_id,
        kind=TimerKind(timer.kind),
        policy=timer.policy,
        started_at=timer.started_at,
        due_at=timer.due_at,
        anchor_id=timer.anchor_id,
    )
    assert payload.anchor_id == strategy
