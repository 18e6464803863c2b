"""Which frontdoor topic an accepted partner event goes to.

Contacts and police domestic-abuse notifications go to screening (``frontdoor.contacts``);
every other lifecycle event goes to ``frontdoor.casework``. The key is always the child's id, so
all events about one child stay in order on one partition.
"""

from __future__ import annotations

from schemas.topics import CASEWORK, CONTACTS

SCREENING_TYPES = frozenset({"contact.received", "police.da_notification"})


def route(event_type: str) -> str:
    return CONTACTS.name if event_type in SCREENING_TYPES else CASEWORK.name
