"""Conference ids and invitations: deterministic, and carrying only what an agency needs.

Ids are uuid5 in `CONFERENCES_NAMESPACE`, so a redelivered event schedules the same conference and
issues the same invitations with the same event ids (publish before commit, DESIGN.md): an ICPC is
named by the child and the strategy discussion that started the s47, a review by its plan and its
number (`services/common/conference_ids.py`, the one definition the simulated agencies share).
One `conference.invitation_issued` per invited agency: the conference's id and kind, the
target date, the booked time if any and when that agency's report is due. It names no other
agency, no narrative and no family: what one agency reads in its inbox says nothing about another
agency or another child. ``subject.family_id`` is left out for the same reason.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from schemas.envelope import Agency, Source, Subject
from schemas.events.conferences import (
    ConferenceInvitationIssued,
    ConferenceInvitationIssuedPayload,
    ConferenceKind,
)
from services.common.conference_ids import CONFERENCES_NAMESPACE, icpc_id, review_id
from services.conferences.domain.state import Conference

__all__ = ["CONFERENCES_NAMESPACE", "icpc_id", "invitation_id", "invitations_for", "review_id"]

SYSTEM = "frontdoor-conferences"


def invitation_id(conference_id: UUID, agency: Agency) -> UUID:
    return uuid5(CONFERENCES_NAMESPACE, f"invitation\x1f{conference_id}\x1f{agency.value}")


def invitation_event_id(conference_id: UUID, agency: Agency) -> UUID:
    return uuid5(CONFERENCES_NAMESPACE, f"invitation-event\x1f{conference_id}\x1f{agency.value}")


def invitations_for(
    child_id: str,
    conference: Conference,
    *,
    cause_id: UUID,
    correlation_id: UUID | None,
    issued_at: datetime | None = None,
) -> tuple[ConferenceInvitationIssued, ...]:
    """One invitation per invited agency, in the conference's agency order."""
    icpc = conference.kind is ConferenceKind.ICPC
    return tuple(
        ConferenceInvitationIssued(
            event_id=invitation_event_id(conference.conference_id, agency),
            event_type="conference.invitation_issued",
            schema_version=1,
            occurred_at=issued_at or conference.issued_at,
            source=Source(
                agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(conference.conference_id)
            ),
            subject=Subject(child_id=child_id),
            correlation_id=correlation_id,
            causation_id=cause_id,
            payload=ConferenceInvitationIssuedPayload(
                invitation_id=invitation_id(conference.conference_id, agency),
                conference_id=conference.conference_id,
                kind=conference.kind,
                agency=agency,
                conference_at=conference.conference_at,
                icpc_target_date=conference.target_date if icpc else None,
                review_target_date=None if icpc else conference.target_date,
                reports_due_by=conference.reports_due_by,
            ),
        )
        for agency in conference.invited
    )
