"""Which event types each agency may publish, and the one lane rule both paths apply.

The role table lives in ``schemas/roles.toml`` (a council can ship its own through
``FRONTDOOR_ROLES_FILE``) rather than in code, so that widening what, say, housing may send is a
reviewed data change. Ingress (HTTP) and intake (every record, whichever path it came by) read
the same file. It denies by default: an agency missing from the file, or an event type added to
the contract later, is not permitted until someone lists it. The parser refuses names that are
not agencies or partner event types, so a typo cannot silently shut a partner out.

``lane_violations`` is the lane rule: given the agency the transport proved is speaking (the
HTTP credential, or the agency's own Kafka topic), an event is refused when its
``source.agency`` is another agency, when a payload field that names its author (marked
``x-frontdoor-author`` in the JSON Schema, e.g. ``conference.report_submitted``'s
``payload.agency``) names another agency, or when the role table does not let the speaker
publish its type. Fields that list agencies as participants (who attended a strategy
discussion, who was invited) record facts about others and are not authorship claims.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from schemas.envelope import AUTHOR_MARK, Agency, EventBase
from schemas.registry import INBOUND_TYPES

DEFAULT_ROLES_FILE = Path(__file__).resolve().parent / "roles.toml"
ROLES_FILE_ENV = "FRONTDOOR_ROLES_FILE"


class RoleTableError(ValueError):
    """The role table names an unknown agency or event type, or is not shaped as documented."""


class RoleTable:
    """An immutable agency → permitted event types mapping."""

    __slots__ = ("_permitted",)

    def __init__(self, permitted: Mapping[Agency, frozenset[str]]) -> None:
        self._permitted: Mapping[Agency, frozenset[str]] = MappingProxyType(dict(permitted))

    def allows(self, agency: Agency, event_type: str) -> bool:
        return event_type in self._permitted.get(agency, frozenset())

    def permitted(self, agency: Agency) -> frozenset[str]:
        return self._permitted.get(agency, frozenset())

    def as_dict(self) -> dict[str, list[str]]:
        return {a.value: sorted(self._permitted.get(a, frozenset())) for a in Agency}


def parse_role_table(text: str) -> RoleTable:
    """Parse the TOML role table: an ``[agencies]`` table of agency → list of event types."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoleTableError(f"the role table is not valid TOML: {exc}") from exc
    agencies = document.get("agencies")
    if not isinstance(agencies, dict):
        raise RoleTableError("the role table needs an [agencies] table")
    permitted: dict[Agency, frozenset[str]] = {}
    for name, types in agencies.items():
        try:
            agency = Agency(name)
        except ValueError:
            raise RoleTableError(f"{name!r} is not an agency") from None
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise RoleTableError(f"agencies.{name} must be a list of event types")
        unknown = sorted(set(types) - INBOUND_TYPES)
        if unknown:
            raise RoleTableError(
                f"agencies.{name} lists {unknown}, which are not event types partners publish"
            )
        permitted[agency] = frozenset(types)
    return RoleTable(permitted)


def roles_file() -> Path:
    """The role table in force: ``FRONTDOOR_ROLES_FILE`` when set, else the shipped file."""
    return Path(os.environ.get(ROLES_FILE_ENV) or DEFAULT_ROLES_FILE)


def load_role_table(path: Path | None = None) -> RoleTable:
    """Read and parse the role table (``RoleTableError`` on a bad file, so a service refuses to
    start rather than run with a table it misread)."""
    path = path or roles_file()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoleTableError(f"cannot read the role table {path}: {exc.strerror}") from None
    return parse_role_table(text)


# -- the lane rule ---------------------------------------------------------------------------

AGENCY_MISMATCH = "agency_mismatch"
EVENT_TYPE_NOT_PERMITTED = "event_type_not_permitted"

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class LaneViolation:
    """One way an event leaves its speaker's lane: where (``loc``) and which rule. The message
    names the field and the rule, never a value from the event."""

    loc: Loc
    rule: str

    @property
    def message(self) -> str:
        where = ".".join(map(str, self.loc))
        if self.rule == AGENCY_MISMATCH:
            return f"{where}: must be the agency that publishes the event ({self.rule})"
        return f"{where}: the publishing agency may not send this event type ({self.rule})"


def author_fields(model: BaseModel, loc: Loc = ()) -> Iterator[tuple[Loc, Agency]]:
    """Every field of ``model`` (at any depth) marked as naming the event's author, with its
    value: ``x-frontdoor-author`` in the field's JSON Schema."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get(AUTHOR_MARK) and isinstance(value, Agency):
            yield (*loc, name), value
            continue
        yield from _nested_authors(value, (*loc, name))


def _nested_authors(value: Any, loc: Loc) -> Iterator[tuple[Loc, Agency]]:
    if isinstance(value, BaseModel):
        yield from author_fields(value, loc)
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            if isinstance(item, BaseModel):
                yield from author_fields(item, (*loc, i))


def lane_violations(speaker: Agency, event: EventBase, roles: RoleTable) -> list[LaneViolation]:
    """What keeps ``event`` out of ``speaker``'s lane, security first; empty when it is in it."""
    found: list[LaneViolation] = []
    if event.source.agency != speaker:
        found.append(LaneViolation(("source", "agency"), AGENCY_MISMATCH))
    for loc, agency in author_fields(event.payload, ("payload",)):
        if agency != speaker:
            found.append(LaneViolation(loc, AGENCY_MISMATCH))
    if not roles.allows(speaker, event.event_type):
        found.append(LaneViolation(("event_type",), EVENT_TYPE_NOT_PERMITTED))
    return found
