"""Example payloads of the workforce contract (teams, workers, allocations, supervision, ASYE,
audits), every optional field filled; the same shape as ``schemas.examples.frontdoor``.

Directory events (``schemas.events.workforce.DIRECTORY_MODELS``) carry the fixed subject
``workforce``; ``schemas.examples.example`` sets it for the types in ``DIRECTORY_TYPES``.
"""

from __future__ import annotations

from schemas.events.workforce import DIRECTORY_MODELS
from schemas.examples.types import Builder, Key
from schemas.registry import event_key

TUE = "2025-03-04T10:30:00+00:00"

DIRECTORY_TYPES = frozenset(event_key(m)[0] for m in DIRECTORY_MODELS)

_ACTION = {"action_id": "A1", "owner_id": "W2", "due_on": "2025-04-01", "action": "Update plan."}

PAYLOADS: dict[Key, tuple[str, Builder]] = {
    ("team.recorded", 1): (
        "social_care",
        lambda ids: {
            "team_id": "T1",
            "name": "Assessment Team 1",
            "manager_id": "M1",
            "parent_team_id": "CSC",
            "weighting_profile": "default",
            "establishment_fte": "6.5",
        },
    ),
    ("worker.joined", 1): (
        "social_care",
        lambda ids: {
            "worker_id": "W1",
            "team_id": "T1",
            "role": "case_holder",
            "fte": "0.8",
            "employed_from": "2025-03-03",
            "agency_worker": False,
            "newly_qualified": True,
            "swe_number": "SW1234567890",
            "start_origin": "1",
            "case_holder": True,
            "census": {
                "birth_date": "1995-04-01",
                "gender": "2",
                "ethnicity": "WBRI",
                "qualification_institution": "University of Leeds",
                "qualification_level": "1",
                "step_up_graduate": False,
                "frontline_graduate": False,
            },
        },
    ),
    ("worker.changed", 1): (
        "social_care",
        lambda ids: {
            "worker_id": "W1",
            "effective_from": "2025-06-01",
            "role": "senior_practitioner",
            "fte": "1",
            "team_id": "T2",
            "case_holder": True,
        },
    ),
    ("worker.leave_started", 1): (
        "social_care",
        lambda ids: {"worker_id": "W1", "starts_on": "2025-07-01", "reason": "SIC"},
    ),
    ("worker.leave_ended", 1): (
        "social_care",
        lambda ids: {"worker_id": "W1", "returned_on": "2025-07-22"},
    ),
    ("worker.left", 1): (
        "social_care",
        lambda ids: {"worker_id": "W1", "left_on": "2026-01-31", "reason": "1", "destination": "2"},
    ),
    ("child.allocated", 1): (
        "social_care",
        lambda ids: {
            "worker_id": "W1",
            "team_id": "T1",
            "allocated_at": TUE,
            "case_type": "cin",
            "co_worker_id": "W2",
            "referral_id": ids(),
        },
    ),
    ("child.reallocated", 1): (
        "social_care",
        lambda ids: {
            "from_worker_id": "W1",
            "worker_id": "W2",
            "team_id": "T1",
            "allocated_at": TUE,
            "case_type": "cp",
            "reason": "caseload",
            "co_worker_id": "W3",
        },
    ),
    ("child.unallocated", 1): (
        "social_care",
        lambda ids: {"worker_id": "W1", "unallocated_at": TUE, "reason": "case_closed"},
    ),
    ("supervision.held", 1): (
        "social_care",
        lambda ids: {
            "worker_id": "W1",
            "supervisor_id": "M1",
            "kind": "case",
            "started_at": TUE,
            "duration_minutes": 95,
            "interrupted": False,
            "children": [{"child_id": "C-1", "decision": "Visit weekly."}],
        },
    ),
    ("oversight.recorded", 1): (
        "social_care",
        lambda ids: {"manager_id": "M1", "recorded_at": TUE, "note": "Plan reviewed."},
    ),
    ("asye.started", 1): (
        "social_care",
        lambda ids: {
            "worker_id": "W1",
            "starts_on": "2025-03-03",
            "programme": "asye",
            "assessor_id": "M1",
        },
    ),
    ("asye.review_held", 1): (
        "social_care",
        lambda ids: {"worker_id": "W1", "review_month": 3, "held_on": "2025-06-02"},
    ),
    ("asye.paused", 1): (
        "social_care",
        lambda ids: {
            "worker_id": "W1",
            "paused_from": "2025-07-01",
            "resumes_on": "2025-07-22",
            "reason": "long_leave",
        },
    ),
    ("asye.completed", 1): (
        "social_care",
        lambda ids: {"worker_id": "W1", "completed_on": "2026-03-23", "outcome": "passed"},
    ),
    ("audit.scheduled", 1): (
        "social_care",
        lambda ids: {
            "audit_id": ids(),
            "auditor_id": "M2",
            "due_on": "2025-03-31",
            "tool": "practice-audit-2025",
            "theme": "neglect",
        },
    ),
    ("audit.completed", 1): (
        "social_care",
        lambda ids: {
            "audit_id": ids(),
            "auditor_id": "M2",
            "completed_at": TUE,
            "tool": "practice-audit-2025",
            "grade": "requires_improvement",
            "actions": [dict(_ACTION)],
        },
    ),
    ("audit.moderated", 1): (
        "social_care",
        lambda ids: {
            "audit_id": ids(),
            "moderator_id": "M3",
            "moderated_at": TUE,
            "grade": "good",
        },
    ),
    ("workforce.alert_raised", 1): (
        "social_care",
        lambda ids: {
            "rule": "caseload_cap",
            "team_id": "T1",
            "manager_id": "M1",
            "worker_id": "W1",
            "allocation_event_id": ids(),
            "raised_at": TUE,
            "profile": "lga2020",
            "points": "101",
            "cap": "90",
        },
    ),
}
