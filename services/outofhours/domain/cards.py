"""Who a crisis item is about, as a night worker needs to see it first: the child's card.

A crisis item names only a child id; at 02:00 the duty worker needs the name, the age, where the
child lives, the police reference to quote on the phone and the team that holds the case. The
card is read from the accepted history (``events``: the latest child details any partner sent,
the latest police reference, the latest allocated team) by the watch feed and shown only on the
authenticated local watch screen — it is personal data, so nothing here is ever logged. Missing
items stay missing ("name not recorded"), never guessed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.common.calendar import to_london


class ChildCard(BaseModel):
    """What the history holds about one child, for the watch screen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    child_id: str
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    expected_birth_date: date | None = None
    address: str | None = None
    police_ref: str | None = None
    team: str | None = None


def card_from(
    child_id: str,
    details: dict[str, Any] | None,
    *,
    police_ref: str | None = None,
    team: str | None = None,
) -> ChildCard:
    """A card from the ``child`` block of the latest contact or referral (as stored in events)."""
    d = details or {}
    return ChildCard(
        child_id=child_id,
        given_name=d.get("given_name"),
        family_name=d.get("family_name"),
        date_of_birth=_day(d.get("date_of_birth")),
        expected_birth_date=_day(d.get("expected_birth_date")),
        address=d.get("address"),
        police_ref=police_ref,
        team=team,
    )


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def name_text(card: ChildCard | None) -> str:
    if card is None or (card.given_name is None and card.family_name is None):
        return "name not recorded"
    return " ".join(n for n in (card.given_name, card.family_name) if n)


def age_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_text(card: ChildCard | None, now: datetime) -> str:
    """``7 y``, ``5 mo`` under one, ``unborn (due 03 Apr)``; ``age ?`` when not recorded."""
    if card is None:
        return "age ?"
    today = to_london(now).date()
    if card.date_of_birth is not None:
        years = age_years(card.date_of_birth, today)
        if years >= 1:
            return f"{years} y"
        months = (today.year - card.date_of_birth.year) * 12 + today.month
        months -= card.date_of_birth.month + (today.day < card.date_of_birth.day)
        return f"{max(months, 0)} mo"
    if card.expected_birth_date is not None:
        return f"unborn (due {card.expected_birth_date:%d %b})"
    return "age ?"


def child_text(card: ChildCard | None, now: datetime) -> str:
    """``Amira Hussain, 7 y`` — the name first, then the age."""
    return f"{name_text(card)}, {age_text(card, now)}"
