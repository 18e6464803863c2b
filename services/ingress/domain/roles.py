"""Which event types each agency may submit: the role table, read from data.

The table lives in ``roles.toml`` beside the service (a council can ship its own through
``FRONTDOOR_INGRESS_ROLES_FILE``) rather than in code, so that widening what, say, housing may
send is a reviewed data change. It denies by default: an agency missing from the file, or an
event type added to the contract later, is not permitted until someone lists it. The parser
refuses names that are not agencies or partner event types, so a typo cannot silently shut a
partner out.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from types import MappingProxyType

from schemas.envelope import Agency
from schemas.registry import INBOUND_TYPES


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
