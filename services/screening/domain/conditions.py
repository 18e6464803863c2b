"""The small condition language the triage rules are written in, and the facts it can name.

A rule's ``when`` is a list of clauses that must all hold; a clause is one or more atoms joined by
`` or ``. The atoms are:

- a flag, optionally negated: ``children_present``, ``not child_injured``;
- a comparison: ``dash_level >= high``, ``dash_yes_count >= 14``, ``youngest_age < 7``,
  ``repeat_incidents_12m >= 3``, ``kind == da_notification`` (choices take ``==`` and ``!=``);
- ``marker in [a, b]`` (any of the markers was recorded) and ``markers_all [a, b, c]`` (all were).

A comparison on a fact that is unknown for this contact (no DASH, no known child age) is false.
Every condition is parsed and checked when the rule set loads, so a typo is an error at start-up,
never a rule that silently stops firing.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

from schemas.codes import DashRiskLevel, HighRiskMarker
from schemas.envelope import Agency
from services.screening.domain.inputs import TriageKind


class Facts(BaseModel):
    """The facts a condition can name: the triage input plus the DASH level after judgement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TriageKind
    source_agency: Agency
    dash_completed: bool
    dash_level: DashRiskLevel | None
    dash_yes_count: int | None
    youngest_age: int | None
    repeat_incidents_12m: int
    markers: frozenset[HighRiskMarker]
    children_present: bool
    child_injured: bool
    special_needs: bool
    open_cp_plan: bool
    open_case: bool


E = TypeVar("E", bound=Enum)

FactType = Literal["flag", "count", "dash", "choice"]

FACT_TYPES: dict[str, FactType] = {
    "children_present": "flag",
    "child_injured": "flag",
    "special_needs": "flag",
    "open_cp_plan": "flag",
    "open_case": "flag",
    "dash_completed": "flag",
    "dash_yes_count": "count",
    "youngest_age": "count",
    "repeat_incidents_12m": "count",
    "dash_level": "dash",
    "kind": "choice",
    "source_agency": "choice",
}

CHOICES: dict[str, frozenset[str]] = {
    "kind": frozenset(get_args(TriageKind)),
    "source_agency": frozenset(agency.value for agency in Agency),
}

Operator = Literal[">=", ">", "<=", "<", "==", "!="]


class FlagIs(BaseModel):
    """A yes/no fact, possibly negated: ``child_injured``, ``not children_present``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["flag"] = "flag"
    fact: str
    negated: bool = False

    def holds(self, facts: Facts) -> bool:
        return bool(getattr(facts, self.fact)) is not self.negated


class Comparison(BaseModel):
    """A fact compared with a value: counts and DASH levels by order, choices by equality."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["comparison"] = "comparison"
    fact: str
    op: Operator
    value: int | DashRiskLevel | str

    def holds(self, facts: Facts) -> bool:
        actual: object = getattr(facts, self.fact)
        if actual is None:
            return False
        if isinstance(actual, DashRiskLevel) and isinstance(self.value, DashRiskLevel):
            return _compare(actual.rank, self.op, self.value.rank)
        if isinstance(actual, int) and isinstance(self.value, int):
            return _compare(actual, self.op, self.value)
        if isinstance(actual, str) and self.op in {"==", "!="}:
            return (actual == self.value) is (self.op == "==")
        raise TypeError(f"cannot compare {self.fact}={actual!r} with {self.value!r}")


class MarkersAny(BaseModel):
    """``marker in [a, b]``: at least one of the markers was recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["markers_any"] = "markers_any"
    markers: frozenset[HighRiskMarker]

    def holds(self, facts: Facts) -> bool:
        return bool(self.markers & facts.markers)


class MarkersAll(BaseModel):
    """``markers_all [a, b, c]``: every one of the markers was recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["markers_all"] = "markers_all"
    markers: frozenset[HighRiskMarker]

    def holds(self, facts: Facts) -> bool:
        return self.markers <= facts.markers


Atom = Annotated[FlagIs | Comparison | MarkersAny | MarkersAll, Field(discriminator="type")]


class Clause(BaseModel):
    """One line of a rule's ``when``: holds when any of its atoms holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str
    atoms: tuple[Atom, ...] = Field(min_length=1)

    def holds(self, facts: Facts) -> bool:
        return any(atom.holds(facts) for atom in self.atoms)


class ConditionError(ValueError):
    """A condition in the rules file does not belong to the vocabulary."""


def _compare(left: int, op: str, right: int) -> bool:
    outcomes = {
        ">=": left >= right,
        ">": left > right,
        "<=": left <= right,
        "<": left < right,
        "==": left == right,
        "!=": left != right,
    }
    return outcomes[op]


_FLAG = re.compile(r"^(?P<negated>not\s+)?(?P<fact>[a-z_0-9]+)$")
_COMPARISON = re.compile(
    r"^(?P<fact>[a-z_0-9]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[a-z_0-9]+)$"
)
_MARKERS = re.compile(r"^(?:marker\s+in|(?P<all>markers_all))\s*\[(?P<items>[^\]]*)\]$")


def parse_clause(text: str) -> Clause:
    """Parse one clause (atoms joined by `` or ``); ``ConditionError`` says what is wrong."""
    parts = [part.strip() for part in re.split(r"(?:^|\s+)or(?:\s+|$)", text.strip())]
    if not all(parts):
        raise ConditionError(f"empty condition in {text!r}")
    return Clause(text=text.strip(), atoms=tuple(_parse_atom(part) for part in parts))


def _parse_atom(text: str) -> FlagIs | Comparison | MarkersAny | MarkersAll:
    if match := _MARKERS.match(text):
        markers = frozenset(_marker(item, text) for item in _split_items(match["items"], text))
        return MarkersAll(markers=markers) if match["all"] else MarkersAny(markers=markers)
    if match := _COMPARISON.match(text):
        return _comparison(match["fact"], match["op"], match["value"], text)
    if match := _FLAG.match(text):
        fact = _known_fact(match["fact"], text)
        if FACT_TYPES[fact] != "flag":
            raise ConditionError(f"{text!r}: {fact} is not a yes/no fact; compare it with a value")
        return FlagIs(fact=fact, negated=bool(match["negated"]))
    raise ConditionError(
        f"{text!r} is not a condition: use a flag ({_names('flag')}), a comparison such as "
        "'dash_level >= high', 'marker in [...]' or 'markers_all [...]'"
    )


def _comparison(fact_name: str, op: str, raw: str, text: str) -> Comparison:
    fact = _known_fact(fact_name, text)
    fact_type = FACT_TYPES[fact]
    if fact_type == "flag":
        raise ConditionError(f"{text!r}: {fact} is a yes/no fact; write '{fact}' or 'not {fact}'")
    value: int | DashRiskLevel | str
    if fact_type == "count":
        if not raw.isdigit():
            raise ConditionError(f"{text!r}: {fact} is compared with a whole number, not {raw!r}")
        value = int(raw)
    elif fact_type == "dash":
        value = _enum_value(DashRiskLevel, raw, text)
    else:
        if op not in {"==", "!="}:
            raise ConditionError(f"{text!r}: {fact} takes only == or !=")
        if raw not in CHOICES[fact]:
            allowed = ", ".join(sorted(CHOICES[fact]))
            raise ConditionError(f"{text!r}: {raw!r} is not a {fact}; expected one of {allowed}")
        value = raw
    return Comparison.model_validate({"fact": fact, "op": op, "value": value})


def _known_fact(name: str, text: str) -> str:
    if name not in FACT_TYPES:
        known = ", ".join(sorted(FACT_TYPES))
        raise ConditionError(f"{text!r}: unknown fact {name!r}; known facts are {known}")
    return name


def _split_items(items: str, text: str) -> list[str]:
    names = [item.strip() for item in items.split(",") if item.strip()]
    if not names:
        raise ConditionError(f"{text!r}: the marker list is empty")
    return names


def _marker(name: str, text: str) -> HighRiskMarker:
    return _enum_value(HighRiskMarker, name, text)


def _enum_value(enum: type[E], raw: str, text: str) -> E:
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum)
        raise ConditionError(
            f"{text!r}: {raw!r} is not a {enum.__name__}; expected one of {allowed}"
        ) from None


def _names(fact_type: FactType) -> str:
    return ", ".join(name for name, kind in FACT_TYPES.items() if kind == fact_type)
