"""Which frontdoor topic an accepted partner event goes to.

Contacts and police domestic-abuse notifications go to screening (``frontdoor.contacts``);
workforce events (teams, workers, allocations, supervision, audits) go to ``frontdoor.workforce``;
every other lifecycle event goes to ``frontdoor.casework``. The key is always the child's id, so
all events about one child stay in order on one partition.
"""

from __future__ import annotations

from schemas.topics import CASEWORK, CONTACTS, WORKFORCE

SCREENING_TYPES = frozenset({"contact.received", "police.da_notification"})
WORKFORCE_TYPES = frozenset(WORKFORCE.event_types)


def route(event_type: str) -> str:
    if event_type in SCREENING_TYPES:
        return CONTACTS.name
    return WORKFORCE.name if event_type in WORKFORCE_TYPES else CASEWORK.name
