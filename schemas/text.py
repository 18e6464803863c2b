"""The text rule of the contract: the characters no string in an event, or in a header, may hold.

Every string a partner sends must be storable in PostgreSQL, encodable by orjson, and text. So no
string may hold a C0 control character other than TAB, LF and CR (U+0000–U+0008, U+000B, U+000C,
U+000E–U+001F; NUL is the one PostgreSQL refuses outright), a surrogate code point
(U+D800–U+DFFF: decoded JSON holds one only when it was unpaired, and it has no UTF-8 encoding,
so orjson and PostgreSQL refuse it), or
the noncharacters U+FFFE and U+FFFF. ``find_violations`` walks raw input of any shape (decoded
JSON, or the dicts, tuples and sets a Python caller passes) without recursion, so hostile
nesting cannot exhaust the stack; it checks every string value, list item and mapping key.
``schemas.envelope.ContractModel`` applies it to every model of the contract and
``schemas.headers`` to Kafka headers. Invariant: a reason names the code point and where it was,
never the text around it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""One character the text rule forbids (a character class: joining strings cannot create one)."""

RULE = (
    "Every string, at any depth (object keys and array items included), must be text: no "
    "control character U+0000-U+001F other than TAB, LF and CR, no unpaired surrogate "
    "(U+D800-U+DFFF), and not U+FFFE or U+FFFF; an event breaking this is refused as invalid."
)
"""The rule in words, as the exported JSON Schema and AsyncAPI files state it for partners."""

MAX_VIOLATIONS = 20
"""At most this many violations are reported for one input; one is enough to refuse it."""

Loc = tuple[str | int, ...]


def character_kind(char: str) -> str:
    """What a forbidden character is: 'control character', 'unpaired surrogate', 'noncharacter'."""
    point = ord(char)
    if point < 0x20:
        return "control character"
    if 0xD800 <= point <= 0xDFFF:
        return "unpaired surrogate"
    return "noncharacter"


def codepoint(char: str) -> str:
    """``U+0000`` notation of one character."""
    return f"U+{ord(char):04X}"


def text_problem(text: str, *, where: str = "text") -> str | None:
    """Why ``text`` breaks the rule, e.g. 'control character U+0000 is not allowed in text'."""
    found = FORBIDDEN_CHARACTERS.search(text)
    if found is None:
        return None
    char = found.group()
    return f"{character_kind(char)} {codepoint(char)} is not allowed in {where}"


@dataclass(frozen=True)
class TextViolation:
    """One string (or mapping key, ``in_key``) at ``loc`` holding a forbidden character."""

    loc: Loc
    char: str
    in_key: bool = False

    @property
    def kind(self) -> str:
        return character_kind(self.char)

    @property
    def codepoint(self) -> str:
        return codepoint(self.char)

    @property
    def message(self) -> str:
        where = "a key" if self.in_key else "text"
        return f"{self.kind} {self.codepoint} is not allowed in {where}"


def _as_text(value: bytes | bytearray) -> str:
    # pydantic reads bytes into a str field as UTF-8; undecodable bytes it refuses itself
    return bytes(value).decode("utf-8", "replace")


def _text_only(value: object) -> object:
    return value if isinstance(value, str | bytes | bytearray) else None


def _own_part(data: object, nested: frozenset[str]) -> object:
    """``data`` less what the nested models under ``nested`` keys will check themselves.

    Under such a key only text is kept (directly, or as an item of a list, tuple or set): any
    other value either reaches the nested model's own check (a mapping, an instance already
    validated) or is refused by pydantic as the wrong type. ``None`` keeps the positions, so a
    loc still points at the right item.
    """
    if not nested or type(data) is not dict:
        return data
    own: dict[object, object] = {}
    for key, value in data.items():
        if key not in nested:
            own[key] = value
        elif isinstance(value, list | tuple | set | frozenset):
            own[key] = [_text_only(item) for item in value]
        else:
            own[key] = _text_only(value)
    return own


def _surely_clean(data: object) -> bool:
    """The fast pass, in C: orjson encodes ``data`` and its output shows no forbidden character.

    orjson refuses a surrogate (and any value it cannot encode: sets, bytes, models — those go
    to the slow pass), writes U+FFFE/U+FFFF as their UTF-8 bytes, and escapes every C0 control
    as ``\\uXXXX`` except ``\\b \\t \\n \\f \\r``; once escaped backslashes are removed, a
    remaining ``\\u``, ``\\b`` or ``\\f`` is a forbidden character. A test holds orjson to this.
    """
    try:
        encoded = orjson.dumps(data)
    except TypeError:
        return False
    if b"\\" in encoded:
        escapes = encoded.replace(b"\\\\", b"")
        if b"\\u" in escapes or b"\\b" in escapes or b"\\f" in escapes:
            return False
    if encoded.isascii() or b"\xef\xbf" not in encoded:
        return True
    return b"\xef\xbf\xbe" not in encoded and b"\xef\xbf\xbf" not in encoded


def find_violations(
    data: object, *, nested: frozenset[str] = frozenset(), limit: int = MAX_VIOLATIONS
) -> list[TextViolation]:
    """Every string of ``data`` that breaks the rule, in document order, at most ``limit``.

    Descends into mappings (keys and values), lists, tuples, sets and frozensets; checks ``str``
    (``StrEnum`` members included) and ``bytes`` / ``bytearray``; anything else (numbers, UUIDs,
    datetimes, already validated model instances) holds no text to check. ``nested`` names keys
    of a top-level mapping whose mapping values (or mapping items of a list value) are checked
    by a nested model of their own, so a tree is walked once, not once per level.
    """
    data = _own_part(data, nested)
    if _surely_clean(data):
        return []
    found: list[TextViolation] = []
    # a path is a chain of (parent, part) cells, turned into a tuple only for a violation, so a
    # deep input costs linear time
    stack: list[tuple[_Path, object]] = [(None, data)]
    while stack and len(found) < limit:
        path, value = stack.pop()
        if isinstance(value, bytes | bytearray):
            value = _as_text(value)
        if isinstance(value, str):
            match = FORBIDDEN_CHARACTERS.search(value)
            if match is not None:
                found.append(TextViolation(_loc(path), match.group()))
        elif isinstance(value, Mapping):
            children: list[tuple[_Path, object]] = []
            for key, item in value.items():
                if isinstance(key, str):
                    match = FORBIDDEN_CHARACTERS.search(key)
                    if match is not None:
                        # the key itself is not put in loc: that would echo the text
                        found.append(TextViolation(_loc(path), match.group(), in_key=True))
                        continue
                part = key if isinstance(key, str | int) else f"<{type(key).__name__} key>"
                children.append(((path, part), item))
            stack.extend(reversed(children))
        elif isinstance(value, list | tuple):
            stack.extend(reversed([((path, i), item) for i, item in enumerate(value)]))
        elif isinstance(value, set | frozenset):
            stack.extend(((path, i), item) for i, item in enumerate(value))
    return found[:limit]


_Path = tuple["_Path", str | int] | None


def _loc(path: _Path) -> Loc:
    parts: list[str | int] = []
    while path is not None:
        path, part = path
        parts.append(part)
    return tuple(reversed(parts))


def scrub(text: str, replacement: str = "\ufffd") -> str:
    """``text`` with every forbidden character replaced, so it is safe to store or send."""
    return FORBIDDEN_CHARACTERS.sub(replacement, text)
