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

import re
from collections.abc import Callable, Sequence

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


class ValueFreeError(ValueError):
    """An error whose message was built to hold no input value (a field path, a rule, a count).

    ``describe_exception`` passes such a message through unchanged; any other exception's text is
    scrubbed, because library messages quote what they were given.
    """


MASK = "…"

_PERSONAL_KEY_WORDS = (
    "given_name|family_name|first_name|last_name|child_name|name|date_of_birth|dob|birth_date|"
    "address|postcode|summary|narrative|nhs_number|phone|email|upn"
)
_SAFE_QUOTED = re.compile(r"(?=[a-z0-9.]*_)[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
"""Quoted text kept as it is: a lower-case snake_case identifier or dotted field path holding an
underscore (a constraint, a column, ``payload.referral_id``); ``'john.smith'`` is masked."""

_UUID = r"\b[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\b"

_SCRUBS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # pydantic's "input_value='…', input_type=str" and asyncpg's DETAIL lines
    (re.compile(r"input_value=.*?(?=, input_type=|\]|$)", re.MULTILINE), f"input_value={MASK}"),
    (re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE), rf"\1 {MASK}"),
    (re.compile(r"\)=\((?:[^()]|\([^()]*\))*\)"), f")=({MASK})"),
    # key=value / 'key': value for the personal keys
    (
        re.compile(
            rf"(?i)\b({_PERSONAL_KEY_WORDS})(['\"]?\s*[=:]\s*)(?:'[^']*'|\"[^\"]*\"|[^\s,;)}}\]]+)"
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), MASK),  # e-mail addresses
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
        MASK,
    ),  # ISO dates
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"), MASK),  # UK dates
    (re.compile(r"\b(?:datetime\.)?date(?:time)?\([\d, ]+\)"), MASK),  # date reprs
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"), MASK),  # UK postcodes
    # phone and NHS numbers; a UUID (an event id, a referral id) is matched first and kept
    (re.compile(rf"({_UUID})|\+?\d(?:[ -]?\d){{9,}}"), lambda m: m.group(1) or MASK),
)
_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")


def _mask_quoted(match: re.Match[str]) -> str:
    text = match.group(0)
    inner = text[1:-1]
    return text if _SAFE_QUOTED.fullmatch(inner) or inner == MASK else f"{text[0]}{MASK}{text[0]}"


def scrub_values(text: str, *, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` (a library's message, a foreign log line) with what may be a value masked.

    Masked: quoted strings (but snake_case identifiers), pydantic's ``input_value=``, asyncpg's
    ``DETAIL`` lines and ``Key (col)=(value)``, ``name=…``-style pairs for the personal keys,
    e-mail addresses, ISO and UK dates, UK postcodes, runs of ten or more digits. The result obeys
    the text rule and is at most ``limit`` characters.
    """
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    text = _QUOTED.sub(_mask_quoted, text)
    text = scrub(text, "?")
    return text if len(text) <= limit else text[: limit - 1] + MASK


def describe_exception(exc: BaseException, *, limit: int = MAX_DESCRIPTION) -> str:
    """What went wrong, without the values: the one text for a dead letter's message and a log.

    A ``ValidationError`` lists path and rule; a ``ValueFreeError`` is kept as written; an
    asyncpg error gives its message scrubbed plus SQLSTATE, constraint, column and table (never
    its DETAIL); anything else its message scrubbed (``scrub_values``).
    """
    if isinstance(exc, pydantic.ValidationError):
        return describe_validation_error(exc, limit=limit)
    if isinstance(exc, ValueFreeError):
        return scrub(str(exc), "?")[:limit]
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        message = str(getattr(exc, "message", None) or exc).split("\n", 1)[0]  # no DETAIL/HINT
        parts = [f"sqlstate {sqlstate}"] + [
            f"{label} {value}"
            for label, value in (
                ("constraint", getattr(exc, "constraint_name", None)),
                ("table", getattr(exc, "table_name", None)),
                ("column", getattr(exc, "column_name", None)),
            )
            if isinstance(value, str)
        ]
        return scrub_values(f"{message} ({', '.join(parts)})", limit=limit)
    return scrub_values(str(exc), limit=limit)
