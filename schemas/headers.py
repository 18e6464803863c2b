"""Kafka headers under the contract's text rule: a name and a value must be UTF-8 text.

A record's headers are read by every stream service and copied into dead letters, the
``dead_letters`` table and ``frontdoor dlq`` output, so a header that is not valid UTF-8 or that
holds a character the text rule forbids (``schemas.text``: NUL and the other C0 controls but
TAB/LF/CR, surrogates, U+FFFE/U+FFFF) makes the record a ``validation`` dead letter instead of a
crash. ``check_header`` judges one header and ``check_headers`` a record's list; both are pure.
Invariant: a reason names the header (only when its name is itself clean text, cut to 64
characters) and the rule, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.text import text_problem

MAX_SHOWN_NAME = 64
"""A header name is shown in a reason only up to this many characters."""

RawHeader = tuple[str | bytes, bytes | None]
"""One Kafka header as the clients give it: the name (``str``, or raw ``bytes``) and the value."""


def _shown(name: str) -> str:
    cut = name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "…"
    return repr(cut)


def _name_text(name: object) -> str | None:
    if isinstance(name, bytes | bytearray):
        try:
            return bytes(name).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return name if isinstance(name, str) else None


def check_header(name: str | bytes, value: bytes | None) -> str | None:
    """Why this header breaks the text rule, or ``None`` when it is fine.

    A ``None`` value (a Kafka null header) is fine. Reasons look like "a header name is not
    valid UTF-8" or "header 'dlq.reason' value: control character U+0000 is not allowed in text".
    """
    text_name = _name_text(name)
    if text_name is None:
        return "a header name is not valid UTF-8"
    problem = text_problem(text_name)
    if problem is not None:
        return f"a header name: {problem}"
    if value is None:
        return None
    shown = _shown(text_name)
    if not isinstance(value, bytes | bytearray | memoryview):
        return f"header {shown} value is not bytes"
    try:
        text = bytes(value).decode("utf-8")  # strict: refuses encoded surrogates as well
    except UnicodeDecodeError:
        return f"header {shown} value is not valid UTF-8"
    problem = text_problem(text)
    return None if problem is None else f"header {shown} value: {problem}"


def check_headers(headers: Iterable[RawHeader] | None) -> str | None:
    """The first reason any of a record's headers breaks the text rule, or ``None``."""
    for name, value in headers or ():
        reason = check_header(name, value)
        if reason is not None:
            return reason
    return None
