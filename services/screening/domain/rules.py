"""A versioned triage rule set: the data a council edits, validated before anything runs.

A rule set carries its version id and the dates it is in force (``effective_from``, and
``effective_to`` or, when that is left out, the day before the next edition starts), the DASH
thresholds, the Operation Encompass school ages (absent in an edition from before the scheme),
the MASH team name, the blue ("not shared") test and the ordered rules. Each rule has an id, a
``when`` (clauses in the condition language, all must hold), the reason text a social worker
reads, and exactly one effect:

- ``sets`` a priority: the starting priority is the highest that any firing ``sets`` rule names
  (green when none fires) — the police-risk mapping and the markers that make a case red;
- ``raises`` the priority by a number of levels, after every ``sets`` rule, cumulatively and
  never past ``raises_at_most`` (amber in the shipped editions: a red result needs a risk factor
  that *sets* red — high DASH, a high-risk marker, injury, judgement; DOMAIN.md §3) — the
  Barnardo's matrix factor (under 7 or special needs, once) and escalation;
- ``at_least`` a priority, applied last as a floor — an open CP plan is at least amber;
- ``note``: the reason is shown to the screener and nothing else changes (a repeat incident,
  a baby in the household).

A rule may also mark the case as meeting a MARAC referral criterion (``marac = true``).
``RuleBook`` holds every edition and answers which one is in force on an event's date
(``rulebook.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.codes import TriagePriority
from schemas.envelope import ShortText
from schemas.events.triage import RuleName
from services.screening.domain.conditions import Clause, parse_clause

RESERVED_PREFIXES = ("dash.", "priority.")
"""Rule-name prefixes the engine uses for the reasons it writes itself."""

Effect = Literal["sets", "raises", "at_least", "note"]


def _parse_when(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("'when' needs at least one condition")
        return tuple(parse_clause(item) if isinstance(item, str) else item for item in value)
    return value


class Rule(BaseModel):
    """One line of the triage matrix: when it fires, what it does and why, in words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleName
    when: tuple[Clause, ...] = Field(min_length=1)
    text: ShortText
    sets: TriagePriority | None = None
    raises: int | None = Field(default=None, ge=1, le=3)
    at_least: TriagePriority | None = None
    note: bool = False
    marac: bool = False

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        return _parse_when(value)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith(RESERVED_PREFIXES):
            raise ValueError(f"rule id {value!r}: the prefixes {RESERVED_PREFIXES} are reserved")
        return value

    @model_validator(mode="after")
    def _one_effect(self) -> Rule:
        effects = [name for name in ("sets", "raises", "at_least", "note") if getattr(self, name)]
        if len(effects) != 1:
            raise ValueError(
                f"rule {self.id!r} must have exactly one of sets, raises, at_least, note "
                f"(found {', '.join(effects) or 'none'})"
            )
        if TriagePriority.BLUE in {self.sets, self.at_least}:
            raise ValueError(f"rule {self.id!r}: blue comes only from [not_shared], never a rule")
        return self

    @property
    def effect(self) -> Effect:
        if self.sets is not None:
            return "sets"
        if self.raises is not None:
            return "raises"
        return "at_least" if self.at_least is not None else "note"


class DashThresholds(BaseModel):
    """DASH "yes" counts at which the risk level becomes medium and high (10 and 14)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    medium_from: int = Field(ge=1)
    high_from: int = Field(ge=2)

    @model_validator(mode="after")
    def _ordered(self) -> DashThresholds:
        if self.high_from <= self.medium_from:
            raise ValueError("dash.high_from must be above dash.medium_from")
        return self


class OperationEncompass(BaseModel):
    """The ages (whole years, inclusive) of a child a police DA notification tells a school of."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    youngest_school_age: int = Field(ge=0)
    oldest_school_age: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> OperationEncompass:
        if self.oldest_school_age < self.youngest_school_age:
            raise ValueError("operation_encompass ages are the wrong way round")
        return self


class NotShared(BaseModel):
    """The blue test: a green result becomes blue when every clause of ``when`` holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleName = "not_shared"
    when: tuple[Clause, ...] = Field(min_length=1)
    text: ShortText

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        return _parse_when(value)


class Routing(BaseModel):
    """Where a child not already open to a team is sent: the MASH screening queue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mash_team: ShortText


class RuleSet(BaseModel):
    """One edition of the triage rules, as loaded from ``rules/<version>.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    effective_from: date
    effective_to: date | None = None
    """The last day in force (inclusive); ``None``: until the next edition starts."""
    description: str = ""
    dash: DashThresholds
    operation_encompass: OperationEncompass | None = None
    """``None``: the edition predates Operation Encompass; no notification starts it."""
    routing: Routing
    not_shared: NotShared | None = None
    raises_at_most: TriagePriority = TriagePriority.AMBER
    """The highest priority ``raises`` rules can reach; red comes only from a ``sets`` rule."""
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _dates_and_ceiling(self) -> RuleSet:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.raises_at_most in {TriagePriority.BLUE, TriagePriority.GREEN}:
            raise ValueError("raises_at_most must be amber or red: a raise that cannot raise")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        if not self.rules:
            raise ValueError("a rule set needs at least one rule")
        seen: set[str] = set()
        ids = [rule.id for rule in self.rules]
        if self.not_shared is not None:
            ids.append(self.not_shared.id)
        for rule_id in ids:
            if rule_id in seen:
                raise ValueError(f"rule id {rule_id!r} is used twice")
            seen.add(rule_id)
        return self
