"""One valid example of every registered event (every optional field filled), for contract tests.

``example(event_type, version)`` returns a fresh JSON-ready dict with its own ids; ``EXAMPLES``
lists every ``(event_type, schema_version)`` it knows, which a test holds equal to the registry, so
a new event model cannot be added without an example here. ``string_paths`` lists the path of
every string in an example, list items included. Built on ``tests.factories`` (whose
``envelope`` validates each example as it is made).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from schemas.codes import upn_check_letter
from tests import factories

Loc = tuple[str | int, ...]

TUE = "2025-03-04T10:30:00+00:00"
TUE_LATER = "2025-03-04T15:00:00+00:00"
WED = "2025-03-05T09:00:00+00:00"
THU = "2025-03-06T09:00:00+00:00"


def _id() -> str:
    return str(uuid.uuid4())


def _upn() -> str:
    rest = "80120000001" + "1"
    return upn_check_letter(rest) + rest


def _child() -> dict[str, Any]:
    child = factories.child_details()
    child["upn"] = _upn()
    child["disabilities"] = ["MOB", "HEAR"]
    return child


def _event(event_type: str, version: int, payload: dict[str, Any], agency: str) -> dict[str, Any]:
    event = factories.envelope(
        event_type, version, payload, child=factories.child_id(), agency=agency
    )
    event["subject"]["family_id"] = f"F-{uuid.uuid4().hex[:8]}"
    event["correlation_id"] = _id()
    event["causation_id"] = _id()
    return event


def _timer(**extra: Any) -> dict[str, Any]:
    return {
        "timer_id": _id(),
        "kind": "assessment",
        "policy": "wt2013",
        "started_at": TUE,
        "due_at": THU,
        "anchor_id": _id(),
        "team": "Assessment Team 2",
        **extra,
    }


_PAYLOADS: dict[tuple[str, int], tuple[str, Callable[[], dict[str, Any]]]] = {
    ("contact.received", 1): (
        "health",
        lambda: {
            "contact_id": _id(),
            "contact_at": TUE,
            "referral_source": "3B",
            "concern": "neglect",
            "summary": "Home conditions poor at new birth visit.",
            "child": {
                "name": "Amy Smith",
                "date_of_birth": "2019-01-20",
                "sex": "F",
                "ethnicity": "WBRI",
                "upn": _upn(),
                "disabilities": ["NONE"],
            },
        },
    ),
    ("contact.received", 2): (
        "education",
        lambda: {
            "contact_id": _id(),
            "contact_at": TUE,
            "referral_source": "2A",
            "concern": "neglect",
            "summary": "Teacher noticed the child is often hungry.",
            "child": _child(),
        },
    ),
    ("police.da_notification", 1): (
        "police",
        lambda: {
            "contact_id": _id(),
            "contact_at": TUE_LATER,
            "police_ref": "SYP-0001",
            "incident_at": TUE,
            "dash_yes_count": 5,
            "dash_risk_level": "medium",
            "officer_judgement_level": "medium",
            "high_risk_markers": ["stalking", "separation"],
            "children_present": True,
            "child_injured": False,
            "household_children": [
                {"child_id": "C-sibling-1", "date_of_birth": "2015-02-01", "age_years": 10}
            ],
            "previous_incidents_12m": 1,
            "summary": "Verbal argument overheard by neighbours.",
            "child": _child(),
        },
    ),
    ("screening.decision_recorded", 1): (
        "social_care",
        lambda: {
            "contact_id": _id(),
            "decided_at": TUE_LATER,
            "decision": "referral",
            "referral_id": _id(),
            "reason": "Repeated neglect concerns from school.",
            "team": "MASH",
            "worker": "J. Worker",
        },
    ),
    ("referral.accepted", 1): (
        "social_care",
        lambda: {
            "referral_id": _id(),
            "contact_id": _id(),
            "referral_at": TUE,
            "referral_source": "2A",
            "primary_need": "N1",
            "team": "Assessment Team 2",
            "worker": "J. Worker",
            "child": _child(),
        },
    ),
    ("assessment.started", 1): (
        "social_care",
        lambda: {
            "assessment_id": _id(),
            "referral_id": _id(),
            "started_at": TUE,
            "kind": "single",
            "team": "Assessment Team 2",
            "worker": "J. Worker",
        },
    ),
    ("assessment.authorised", 1): (
        "social_care",
        lambda: {
            "assessment_id": _id(),
            "referral_id": _id(),
            "authorised_at": THU,
            "child_seen": True,
            "factors": ["16A", "3A"],
            "outcome": "cin_plan",
            "late_reason": "The family was away for two weeks.",
        },
    ),
    ("strategy_discussion.held", 1): (
        "social_care",
        lambda: {
            "strategy_id": _id(),
            "referral_id": _id(),
            "held_at": TUE,
            "held_out_of_hours": False,
            "agencies": ["police", "health", "social_care"],
            "outcome": "section_47",
        },
    ),
    ("s47.started", 1): (
        "social_care",
        lambda: {
            "s47_id": _id(),
            "strategy_id": _id(),
            "referral_id": _id(),
            "started_at": TUE,
            "held_out_of_hours": False,
        },
    ),
    ("s47.completed", 1): (
        "social_care",
        lambda: {
            "s47_id": _id(),
            "referral_id": _id(),
            "completed_at": THU,
            "concerns_substantiated": True,
            "icpc_required": True,
        },
    ),
    ("conference.report_submitted", 1): (
        "health",
        lambda: {
            "report_id": _id(),
            "conference_id": _id(),
            "agency": "health",
            "submitted_at": TUE,
            "shared_with_family": True,
        },
    ),
    ("conference.icpc_held", 1): (
        "social_care",
        lambda: {
            "conference_id": _id(),
            "s47_id": _id(),
            "referral_id": _id(),
            "conference_at": WED,
            "invited_agencies": ["police", "health", "education"],
            "attending_agencies": ["police", "health"],
            "plan": True,
            "plan_id": _id(),
            "category": "NEG",
        },
    ),
    ("core_group.held", 1): (
        "social_care",
        lambda: {
            "core_group_id": _id(),
            "plan_id": _id(),
            "held_at": WED,
            "agencies": ["health", "education"],
        },
    ),
    ("conference.rcpc_held", 1): (
        "social_care",
        lambda: {
            "conference_id": _id(),
            "plan_id": _id(),
            "conference_at": WED,
            "invited_agencies": ["police", "health"],
            "attending_agencies": ["health"],
            "plan_continues": True,
            "latest_category": "EMO",
        },
    ),
    ("cp_plan.ended", 1): (
        "social_care",
        lambda: {
            "plan_id": _id(),
            "ended_at": WED,
            "reason": "review_decision",
            "conference_id": _id(),
        },
    ),
    ("visit.recorded", 1): (
        "social_care",
        lambda: {
            "visit_id": _id(),
            "visit_at": TUE,
            "kind": "cp_statutory",
            "referral_id": _id(),
            "plan_id": _id(),
            "child_seen": True,
            "seen_alone": True,
        },
    ),
    ("case.closed", 1): (
        "social_care",
        lambda: {
            "referral_id": _id(),
            "closed_at": THU,
            "reason": "RC8",
            "referral_nfa": True,
        },
    ),
    ("ooh.action_recorded", 1): (
        "ooh",
        lambda: {
            "action_id": _id(),
            "action_at": "2025-03-04T23:10:00+00:00",
            "kind": "welfare_check",
            "urgency": "today",
            "summary": "Visited with police; child safe with grandmother.",
            "decision_reason": "No immediate risk once the father had left.",
            "worker": "EDT worker",
        },
    ),
    ("ooh.alert_raised", 1): (
        "social_care",
        lambda: {
            "alert_id": _id(),
            "raised_at": TUE,
            "risk": "Father may return tonight despite bail conditions.",
            "contingency_plan": "Call police; child to stay with grandmother.",
            "expires_at": THU,
            "team": "Assessment Team 2",
        },
    ),
    ("police.protection_started", 1): (
        "police",
        lambda: {
            "protection_id": _id(),
            "started_at": TUE,
            "police_ref": "SYP-0002",
            "summary": "Child found alone at home at night.",
        },
    ),
    ("police.protection_ended", 1): (
        "police",
        lambda: {"protection_id": _id(), "ended_at": WED, "outcome": "returned_home"},
    ),
    ("child.missing_reported", 1): (
        "police",
        lambda: {
            "missing_id": _id(),
            "reported_at": TUE_LATER,
            "last_seen_at": TUE,
            "missing_from": "home",
            "risk": "medium",
            "police_ref": "SYP-0003",
        },
    ),
    ("screening.triaged", 1): (
        "social_care",
        lambda: {
            "contact_id": _id(),
            "triaged_at": TUE,
            "priority": "amber",
            "reasons": [{"rule": "dash.medium", "text": "Medium DASH risk with children present"}],
            "screening_due_at": WED,
            "route": {"kind": "mash_queue", "team": "MASH"},
        },
    ),
    ("crisis.raised", 1): (
        "social_care",
        lambda: {
            "crisis_id": _id(),
            "raised_at": TUE_LATER,
            "reason": "police_protection",
            "urgency": "immediate",
            "explanation": "Police protection started out of hours",
            "trigger_event_id": _id(),
            "trigger_event_type": "police.protection_started",
            "trigger_at": TUE,
        },
    ),
    ("sla.started", 1): ("social_care", _timer),
    ("sla.warning", 1): ("social_care", lambda: _timer(warned_at=WED)),
    ("sla.breached", 1): ("social_care", lambda: _timer(breached_at=THU)),
    ("sla.met", 1): ("social_care", lambda: _timer(met_at=WED, late=False)),
    ("sla.cancelled", 1): (
        "social_care",
        lambda: _timer(cancelled_at=WED, reason="The case closed"),
    ),
    ("conference.invitation_issued", 1): (
        "social_care",
        lambda: {
            "invitation_id": _id(),
            "conference_id": _id(),
            "kind": "icpc",
            "agency": "health",
            "conference_at": THU,
            "icpc_target_date": "2025-03-06",
            "reports_due_by": WED,
        },
    ),
    ("ooh.handover_published", 1): (
        "ooh",
        lambda: {
            "handover_id": _id(),
            "shift_started_at": "2025-03-04T17:00:00+00:00",
            "shift_ended_at": "2025-03-05T08:30:00+00:00",
            "due_by": WED,
            "rank": 1,
            "urgency": "today",
            "team": "Assessment Team 2",
            "actions": [
                {
                    "action_id": _id(),
                    "action_at": "2025-03-04T23:10:00+00:00",
                    "kind": "welfare_check",
                    "urgency": "today",
                    "crisis_id": _id(),
                    "worker": "EDT worker",
                    "summary": "Visited with police; child safe.",
                    "decision_reason": "No immediate risk.",
                }
            ],
            "crises": [
                {
                    "crisis_id": _id(),
                    "raised_at": "2025-03-04T22:00:00+00:00",
                    "reason": "police_protection",
                    "urgency": "immediate",
                    "explanation": "Police protection started out of hours",
                    "trigger_event_type": "police.protection_started",
                    "acknowledged_at": "2025-03-04T22:05:00+00:00",
                }
            ],
        },
    ),
    ("ooh.handover_acknowledged", 1): (
        "social_care",
        lambda: {
            "handover_id": _id(),
            "acknowledged_at": WED,
            "team": "Assessment Team 2",
            "worker": "J. Worker",
        },
    ),
}

EXAMPLES: tuple[tuple[str, int], ...] = tuple(sorted(_PAYLOADS))
"""Every (event_type, schema_version) with an example."""


def example(event_type: str, version: int) -> dict[str, Any]:
    """A fresh valid event of this type and version, every optional field filled."""
    agency, payload = _PAYLOADS[(event_type, version)]
    return _event(event_type, version, payload(), agency)


def string_paths(data: Any, loc: Loc = ()) -> Iterator[Loc]:
    """The path of every string in ``data`` (mapping values and list items), in order."""
    if isinstance(data, str):
        yield loc
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from string_paths(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from string_paths(value, (*loc, index))


def mapping_paths(data: Any, loc: Loc = ()) -> Iterator[Loc]:
    """The path of every mapping in ``data``, the whole of it first."""
    if isinstance(data, dict):
        yield loc
        for key, value in data.items():
            yield from mapping_paths(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from mapping_paths(value, (*loc, index))


def at(data: Any, loc: Loc) -> Any:
    """The value at ``loc``."""
    for part in loc:
        data = data[part]
    return data


def replaced(data: dict[str, Any], loc: Loc, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the value at ``loc`` replaced."""
    copy: dict[str, Any] = _deep_copy(data)
    parent = at(copy, loc[:-1])
    parent[loc[-1]] = value
    return copy


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _deep_copy(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_deep_copy(value) for value in data]
    return data
