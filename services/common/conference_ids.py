"""The ids of child protection conferences: one pure function per kind, shared by every side.

A conference id is a function of the history, never drawn at random: an ICPC is named by the
child and the strategy discussion that started the section 47 enquiry, a review by its plan and
its number. The conferences service books and invites under these ids
(``services/conferences/domain/invitations.py``), and an agency's report must answer the id in
the invitation it received; the simulated agencies (``services/simulate``) compute the invitation
they would receive with these same functions, so there is one definition and no copy to drift.
Replaying or rebuilding the history gives the same ids. uuid5 in ``CONFERENCES_NAMESPACE``.
"""

from __future__ import annotations

from uuid import UUID, uuid5

CONFERENCES_NAMESPACE = UUID("0b9a4c71-5f2e-5d0a-8c3b-7e61d2f4a905")
"""uuid5 namespace of conference, invitation and event ids. Never change it."""


def icpc_id(child_id: str, strategy_id: UUID) -> UUID:
    """The ICPC scheduled from one strategy discussion (or the s47 it started)."""
    return uuid5(CONFERENCES_NAMESPACE, f"icpc\x1f{child_id}\x1f{strategy_id}")


def review_id(plan_id: UUID, sequence: int) -> UUID:
    """The `sequence`th review conference of a plan (1 = the first review)."""
    return uuid5(CONFERENCES_NAMESPACE, f"rcpc\x1f{plan_id}\x1f{sequence}")
