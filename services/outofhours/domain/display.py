"""How the watch view words an item: its urgency, its age and whether it is acknowledged.

Pure text from an item and a moment; the Textual view (``adapters/watch_view.py``) only lays it
out. Ages are compact (``45 s``, ``12 min``, ``3 h 05``, ``2 d 4 h``); an acknowledgement shows
its London time and who gave it.
"""

from __future__ import annotations

from datetime import datetime

from schemas.codes import Urgency
from services.common.calendar import to_london
from services.outofhours.domain.record import CrisisItem

URGENCY_LABEL = {
    Urgency.IMMEDIATE: "IMMEDIATE",
    Urgency.TODAY: "today",
    Urgency.NEXT_WORKING_DAY: "next day",
    Urgency.ROUTINE: "routine",
}


def age_text(since: datetime, now: datetime) -> str:
    """A compact age: ``45 s``, ``12 min``, ``3 h 05``, ``2 d 4 h``."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def ack_text(item: CrisisItem, *, pending: bool) -> str:
    """``ACK 02:41 EDT09`` once acknowledged; ``sending…`` while the duty worker's is on its way."""
    if item.acknowledged_at is not None:
        by = f" {item.acknowledged_by}" if item.acknowledged_by else ""
        return f"ACK {to_london(item.acknowledged_at):%H:%M}{by}"
    return "sending…" if pending else "—"
