"""How the watch view words an item: its urgency, its age, whether it is acknowledged, and the
whole item in full for the detail pane.

Pure text from an item, the child's card and a moment; the Textual view
(``adapters/watch_view.py``) only lays it out, each table cell two lines cut to its column.
Ages are compact (``45 s``, ``12 min``, ``3 h 05``, ``2 d 4 h``); an acknowledgement shows its
London time and who gave it.
"""

from __future__ import annotations

from datetime import datetime

from schemas.codes import Urgency
from services.common.calendar import to_london
from services.outofhours.domain.cards import ChildCard, child_text
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


def words(code: str) -> str:
    return code.replace("_", " ")


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cell(first: str, second: str, width: int) -> str:
    return f"{fit(first, width)}\n{fit(second, width)}"


def item_text(item: CrisisItem, card: ChildCard | None, now: datetime) -> str:
    """Everything about one item, in full: the detail pane and the line under the table."""
    c = card
    born = ""
    if c is not None and c.date_of_birth is not None:
        born = f" · born {c.date_of_birth:%d/%m/%Y}"
    address = c.address if c and c.address else "address not recorded"
    lines = [
        f"{child_text(c, now)}{born} · {address}",
        f"police ref {(c.police_ref if c and c.police_ref else '—')} · "
        f"team {(c.team if c and c.team else 'not allocated')} · child id {item.child_id}",
        f"{URGENCY_LABEL[item.urgency]} · {words(item.reason.value)} · waiting "
        f"{age_text(item.happened_at, now)} (since {to_london(item.happened_at):%a %d %b %H:%M})"
        f" · {ack_text(item, pending=False)}",
        item.explanation,
    ]
    return "\n".join(lines)
