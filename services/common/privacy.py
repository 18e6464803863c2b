"""What counts as personal data in a structure, and the one walk that removes or masks it.

One deny-list of keys (``PERSONAL_DATA_KEYS``, matched on the lower-cased key name at any depth:
names, dates of birth, addresses, NHS numbers, narrative and the containers that hold them) and
one list of free-text keys (``FREE_TEXT_KEYS``, value-scrubbed by ``schemas.errors.scrub_values``
because a library may have quoted a value there). ``redacted`` walks a value with them, in two
modes: for logs (``services.common.logging``) a personal key is dropped; for a screen that must
show a record's shape (the ops dead-letter console) it is kept with every value under it replaced
by ``mask`` (keys kept, so the field a dead letter names can be found; only ``None`` and booleans
shown). Either way the paths hidden are returned. Pure: no I/O, no logging, importable by domain
code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from schemas.errors import describe_exception, scrub_values

#: Keys that may hold personal data (matched on the lower-cased key name, at any depth): the
#: contract's person fields (schemas/child.py, the events' payloads) and free text.
PERSONAL_DATA_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "name",
        "names",
        "full_name",
        "child_name",
        "first_name",
        "last_name",
        "surname",
        "preferred_name",
        "date_of_birth",
        "dob",
        "birth_date",
        "expected_birth_date",
        "date_of_death",
        "age",
        "age_years",
        "address",
        "address_line",
        "postcode",
        "nhs_number",
        "phone",
        "telephone",
        "email",
        "summary",
        "narrative",
        "notes",
        "description",
        "reason_text",
        "payload",
        "body",
        "value",
        "child",
        "parent",
        "parents",
        "household",
        "upn",
    }
)

#: Keys whose string values are free text a library may have filled with a quoted value.
FREE_TEXT_KEYS = frozenset(
    {"error", "exception_message", "message", "detail", "msg", "reason_detail"}
)

_SAFE_SCALARS = (bool, int, float, UUID, datetime, date, time, PurePath, Enum)
FREE_TEXT_LIMIT = 20_000


def _hidden(value: Any, mask: str) -> Any:
    """Under a personal key: the shape kept, every value masked (``None`` and booleans aside)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return {str(key): _hidden(item, mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_hidden(item, mask) for item in value]
    return mask


def _clean(  # noqa: PLR0911 - one return per kind of value
    value: Any, path: str, removed: list[str], *, free_text: bool, mask: str | None
) -> Any:
    if value is None or isinstance(value, _SAFE_SCALARS):
        return value
    if isinstance(value, str):
        return scrub_values(value, limit=FREE_TEXT_LIMIT) if free_text else value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return _clean(value.model_dump(mode="json"), path, removed, free_text=free_text, mask=mask)
    if isinstance(value, Mapping):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            where = f"{path}.{name}" if path else name
            if name.lower() in PERSONAL_DATA_KEYS:
                removed.append(where)
                if mask is not None:
                    kept[name] = _hidden(item, mask)
                continue
            kept[name] = _clean(
                item,
                where,
                removed,
                free_text=free_text or name.lower() in FREE_TEXT_KEYS,
                mask=mask,
            )
        return kept
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item, path, removed, free_text=free_text, mask=mask) for item in value]
    if isinstance(value, BaseException):
        return describe_exception(value)
    return scrub_values(str(value), limit=FREE_TEXT_LIMIT)


def redacted(
    value: Any, *, path: str = "", free_text: bool = False, mask: str | None = None
) -> tuple[Any, list[str]]:
    """``value`` without personal data, and the paths of what was hidden.

    ``mask=None`` drops personal keys (logs); a string keeps them with every value under them
    replaced by it (a record shown to staff). Free-text keys (and everything when ``free_text``)
    are value-scrubbed; bytes become their length; pydantic models are dumped first.
    """
    removed: list[str] = []
    return _clean(value, path, removed, free_text=free_text, mask=mask), removed
