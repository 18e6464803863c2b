"""Telling why a record broke the contract without repeating what it said.

A validation failure ends up in a dead letter's ``dlq.exception.message`` header, the
``dead_letters`` table, ``frontdoor dlq list``, logs and HTTP answers; ``str(ValidationError)``
would carry the submitted values (a child's name, a date of birth). ``describe_validation_error``
renders only each error's path and pydantic's message — "payload.child.family_name: control
character U+0000 is not allowed in text; payload.contact_at: Field required" — from
``errors(include_input=False, include_url=False)``, capped in length. Invariant: the result holds
no input value and itself obeys the text rule (``schemas.text``), so it is safe as a Kafka header
and in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import pydantic

from schemas.text import scrub

MAX_DESCRIPTION = 1000
"""Characters at most in a description (a header and a table cell, not a report)."""

MAX_LOC_PART = 64
"""A path element longer than this (an unknown key, say) is cut."""

ROOT = "(root)"
"""The path shown for an error about the record as a whole."""


def _part(part: str | int) -> str:
    text = scrub(str(part), "?")
    return text if len(text) <= MAX_LOC_PART else text[:MAX_LOC_PART] + "…"


def field_path(loc: Sequence[str | int]) -> str:
    """A loc as a dotted path: ``payload.household_children.0.age_years``; ``(root)`` if empty."""
    return ".".join(_part(p) for p in loc) or ROOT


def _more(count: int) -> str:
    if count == 0:
        return ""
    return f"; and {count} more error{'s' if count > 1 else ''}"


def describe_validation_error(
    exc: pydantic.ValidationError, *, limit: int = MAX_DESCRIPTION
) -> str:
    """``"path: message"`` per error, joined by ``"; "``, at most ``limit`` characters, no values.

    When the errors do not all fit, as many whole items as fit are kept and the rest counted
    ("…; and 3 more errors"); a first item too long on its own is cut, with "…".
    """
    items = [
        f"{field_path(error['loc'])}: {scrub(error['msg'], '?')}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    text = "; ".join(items)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for index, item in enumerate(items):
        candidate = "; ".join([*kept, item])
        if len(candidate) + len(_more(len(items) - index - 1)) > limit:
            break
        kept.append(item)
    if kept:
        return "; ".join(kept) + _more(len(items) - len(kept))
    tail = _more(len(items) - 1)
    return (items[0][: max(limit - len(tail) - 1, 0)] + "…" + tail)[:limit]
