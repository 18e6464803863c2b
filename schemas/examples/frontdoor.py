"""Example payloads of the front door's own contract: contacts, casework, conferences, out of hours,
emergencies, triage and SLA timers (the workforce's are in ``schemas.examples.workforce``).

Each entry is ``(event_type, schema_version) -> (publishing agency, payload builder)``; a builder
takes the id source so the published documents get fixed ids and tests fresh ones. Every optional
field is filled. Names, addresses and references are invented (``Example``, ``Sampletown``,
``ZZ99`` postcodes); none is real personal data.
"""

from __future__ import annotations

from typing import Any

from schemas.codes import upn_check_letter
from schemas.examples.types import Builder, Ids, Key

TUE = "2025-03-04T10:30:00+00:00"
TUE_LATER = "2025-03-04T15:00:00+00:00"
WED = "2025-03-05T09:00:00+00:00"
THU = "2025-03-06T09:00:00+00:00"


def _upn() -> str:
    rest = "80120000001" + "1"
    return upn_check_letter(rest) + rest


def _child() -> dict[str, Any]:
    return {
        "given_name": "Alex",
        "family_name": "Example",
        "date_of_birth": "2017-05-01",
        "sex": "F",
        "ethnicity": "WBRI",
        "upn": _upn(),
        "disabilities": ["MOB", "HEAR"],
        "address": "12 Example Road, Sampletown ZZ99 1AA",
    }


def _timer(ids: Ids, **extra: Any) -> dict[str, Any]:
    return {
        "timer_id": ids(),
        "kind": "assessment",
        "policy": "wt2013",
        "started_at": TUE,
        "due_at": THU,
        "anchor_id": ids(),
        "team": "Assessment Team 2",
        **extra,
    }


PAYLOADS: dict[Key, tuple[str, Builder]] = {
    ("contact.received", 1): (
        "health",
        lambda ids: {
            "contact_id": ids(),
            "contact_at": TUE,
            "referral_source": "3B",
            "concern": "neglect",
            "summary": "Home conditions poor at new birth visit.",
            "child": {
                "name": "Amy Example",
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
        lambda ids: {
            "contact_id": ids(),
            "contact_at": TUE,
            "referral_source": "2A",
            "concern": "neglect",
            "summary": "Teacher noticed the child is often hungry.",
            "child": _child(),
        },
    ),
    ("police.da_notification", 1): (
        "police",
        lambda ids: {
            "contact_id": ids(),
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
    ("education.encompass_notified", 1): (
        "police",
        lambda ids: {
            "contact_id": ids(),
            "notified_at": "2025-03-05T08:15:00+00:00",
            "school_urn": "107123",
            "method": "telephone",
        },
    ),
    ("screening.decision_recorded", 1): (
        "social_care",
        lambda ids: {
            "contact_id": ids(),
            "decided_at": TUE_LATER,
            "decision": "referral",
            "referral_id": ids(),
            "reason": "Repeated neglect concerns from school.",
            "team": "MASH",
            "worker": "J. Worker",
        },
    ),
    ("referral.accepted", 1): (
        "social_care",
        lambda ids: {
            "referral_id": ids(),
            "contact_id": ids(),
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
        lambda ids: {
            "assessment_id": ids(),
            "referral_id": ids(),
            "started_at": TUE,
            "kind": "single",
            "team": "Assessment Team 2",
            "worker": "J. Worker",
        },
    ),
    ("assessment.authorised", 1): (
        "social_care",
        lambda ids: {
            "assessment_id": ids(),
            "referral_id": ids(),
            "authorised_at": THU,
            "child_seen": True,
            "factors": ["16A", "3A"],
            "outcome": "cin_plan",
            "late_reason": "The family was away for two weeks.",
        },
    ),
    ("strategy_discussion.held", 1): (
        "social_care",
        lambda ids: {
            "strategy_id": ids(),
            "referral_id": ids(),
            "held_at": TUE,
            "held_out_of_hours": False,
            "agencies": ["police", "health", "social_care"],
            "outcome": "section_47",
        },
    ),
    ("s47.started", 1): (
        "social_care",
        lambda ids: {
            "s47_id": ids(),
            "strategy_id": ids(),
            "referral_id": ids(),
            "started_at": TUE,
            "held_out_of_hours": False,
        },
    ),
    ("s47.completed", 1): (
        "social_care",
        lambda ids: {
            "s47_id": ids(),
            "referral_id": ids(),
            "completed_at": THU,
            "concerns_substantiated": True,
            "icpc_required": True,
        },
    ),
    ("conference.report_submitted", 1): (
        "health",
        lambda ids: {
            "report_id": ids(),
            "conference_id": ids(),
            "agency": "health",
            "submitted_at": TUE,
            "shared_with_family": True,
        },
    ),
    ("conference.icpc_held", 1): (
        "social_care",
        lambda ids: {
            "conference_id": ids(),
            "s47_id": ids(),
            "referral_id": ids(),
            "conference_at": WED,
            "invited_agencies": ["police", "health", "education"],
            "attending_agencies": ["police", "health"],
            "plan": True,
            "plan_id": ids(),
            "category": "NEG",
        },
    ),
    ("core_group.held", 1): (
        "social_care",
        lambda ids: {
            "core_group_id": ids(),
            "plan_id": ids(),
            "held_at": WED,
            "agencies": ["health", "education"],
        },
    ),
    ("conference.rcpc_held", 1): (
        "social_care",
        lambda ids: {
            "conference_id": ids(),
            "plan_id": ids(),
            "conference_at": WED,
            "invited_agencies": ["police", "health"],
            "attending_agencies": ["health"],
            "plan_continues": True,
            "latest_category": "EMO",
        },
    ),
    ("cp_plan.ended", 1): (
        "social_care",
        lambda ids: {
            "plan_id": ids(),
            "ended_at": WED,
            "reason": "review_decision",
            "conference_id": ids(),
        },
    ),
    ("visit.recorded", 1): (
        "social_care",
        lambda ids: {
            "visit_id": ids(),
            "visit_at": TUE,
            "kind": "cp_statutory",
            "referral_id": ids(),
            "plan_id": ids(),
            "child_seen": True,
            "seen_alone": True,
        },
    ),
    ("case.closed", 1): (
        "social_care",
        lambda ids: {
            "referral_id": ids(),
            "closed_at": THU,
            "reason": "RC8",
            "referral_nfa": True,
        },
    ),
    ("ooh.action_recorded", 1): (
        "ooh",
        lambda ids: {
            "action_id": ids(),
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
        lambda ids: {
            "alert_id": ids(),
            "raised_at": TUE,
            "risk": "Father may return tonight despite bail conditions.",
            "contingency_plan": "Call police; child to stay with grandmother.",
            "expires_at": THU,
            "team": "Assessment Team 2",
        },
    ),
    ("police.protection_started", 1): (
        "police",
        lambda ids: {
            "protection_id": ids(),
            "started_at": TUE,
            "police_ref": "SYP-0002",
            "summary": "Child found alone at home at night.",
        },
    ),
    ("police.protection_ended", 1): (
        "police",
        lambda ids: {"protection_id": ids(), "ended_at": WED, "outcome": "returned_home"},
    ),
    ("child.missing_reported", 1): (
        "police",
        lambda ids: {
            "missing_id": ids(),
            "reported_at": TUE_LATER,
            "last_seen_at": TUE,
            "missing_from": "home",
            "risk": "medium",
            "police_ref": "SYP-0003",
        },
    ),
    ("screening.triaged", 1): (
        "social_care",
        lambda ids: {
            "contact_id": ids(),
            "triaged_at": TUE,
            "priority": "amber",
            "reasons": [{"rule": "dash.medium", "text": "Medium DASH risk with children present"}],
            "screening_due_at": WED,
            "route": {"kind": "mash_queue", "team": "MASH"},
        },
    ),
    ("crisis.raised", 1): (
        "social_care",
        lambda ids: {
            "crisis_id": ids(),
            "raised_at": TUE_LATER,
            "reason": "police_protection",
            "urgency": "immediate",
            "explanation": "Police protection started out of hours",
            "trigger_event_id": ids(),
            "trigger_event_type": "police.protection_started",
            "trigger_at": TUE,
        },
    ),
    ("sla.started", 1): ("social_care", _timer),
    ("sla.warning", 1): ("social_care", lambda ids: _timer(ids, warned_at=WED)),
    ("sla.breached", 1): ("social_care", lambda ids: _timer(ids, breached_at=THU)),
    ("sla.met", 1): ("social_care", lambda ids: _timer(ids, met_at=WED, late=False)),
    ("sla.cancelled", 1): (
        "social_care",
        lambda ids: _timer(ids, cancelled_at=WED, reason="The case closed"),
    ),
    ("conference.invitation_issued", 1): (
        "social_care",
        lambda ids: {
            "invitation_id": ids(),
            "conference_id": ids(),
            "kind": "icpc",
            "agency": "health",
            "conference_at": THU,
            "icpc_target_date": "2025-03-06",
            "reports_due_by": WED,
        },
    ),
    ("ooh.handover_published", 1): (
        "ooh",
        lambda ids: {
            "handover_id": ids(),
            "shift_started_at": "2025-03-04T17:00:00+00:00",
            "shift_ended_at": "2025-03-05T08:30:00+00:00",
            "due_by": WED,
            "rank": 1,
            "urgency": "today",
            "team": "Assessment Team 2",
            "actions": [
                {
                    "action_id": ids(),
                    "action_at": "2025-03-04T23:10:00+00:00",
                    "kind": "welfare_check",
                    "urgency": "today",
                    "crisis_id": ids(),
                    "worker": "EDT worker",
                    "summary": "Visited with police; child safe.",
                    "decision_reason": "No immediate risk.",
                }
            ],
            "crises": [
                {
                    "crisis_id": ids(),
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
        lambda ids: {
            "handover_id": ids(),
            "acknowledged_at": WED,
            "team": "Assessment Team 2",
            "worker": "J. Worker",
        },
    ),
}
