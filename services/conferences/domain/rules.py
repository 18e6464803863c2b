"""A council's conference rules as data: timescales, invitees, and when a conference is quorate.

`ConferenceRules` is what the conferences service schedules by: the ICPC target (working days from
the strategy discussion that started the s47, day 0 convention), the first and later review
targets (calendar months, moved back to the last working day), how many working days before the
conference agencies' reports must reach the parents, which agencies are always invited, which never
are, and the `QuorumRule` (one or more agencies that must be there, plus at least N others from a
list). The statutory clocks themselves are SLA timers owned by the SLA policy; the numbers here must
agree with the SLA policy of the same name (a unit test holds them together). Rules are parsed from
plain documents (TOML in ``services/conferences/adapters/rules/``, read by the loader there); a
council's file may `extends` a shipped one and override any part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from schemas.envelope import Agency

DEFAULT_RULES = "wt2013"
"""The rules (and SLA policy) name used when ``FRONTDOOR_POLICY`` is unset."""


class RulesError(ValueError):
    """A conference rules document is invalid."""


class QuorumRule(BaseModel):
    """Quorate = every `required` agency plus at least `others_at_least` of `others` present."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    required: tuple[Agency, ...] = (Agency.SOCIAL_CARE,)
    others_at_least: NonNegativeInt = 2
    others: tuple[Agency, ...] = (
        Agency.POLICE,
        Agency.HEALTH,
        Agency.EDUCATION,
        Agency.PROBATION,
        Agency.HOUSING,
        Agency.EARLY_HELP,
    )

    def is_met(self, present: Iterable[Agency]) -> bool:
        """Whether the agencies `present` make a quorum."""
        there = frozenset(present)
        if not there.issuperset(self.required):
            return False
        counted = there.intersection(self.others).difference(self.required)
        return len(counted) >= self.others_at_least

    def describe(self) -> str:
        """The rule in words, for the CLI."""
        required = " and ".join(a.value for a in self.required) or "nobody in particular"
        return f"{required} plus at least {self.others_at_least} other agencies"


class InvitationRule(BaseModel):
    """Who is invited to a conference: `always`, plus the agencies named by the event that
    scheduled it (the strategy discussion's or the previous conference's), minus `never`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    always: tuple[Agency, ...] = (Agency.SOCIAL_CARE, Agency.POLICE, Agency.HEALTH)
    never: tuple[Agency, ...] = (Agency.PUBLIC, Agency.OTHER, Agency.OOH)

    def invitees(self, named: Iterable[Agency]) -> tuple[Agency, ...]:
        """The invited agencies, in the contract's agency order (stable ids and output)."""
        wanted = (set(self.always) | set(named)) - set(self.never)
        return tuple(a for a in Agency if a in wanted)


class ConferenceRules(BaseModel):
    """The conference rules in force under one policy (named as the SLA policy is)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,47}$")
    description: str = ""
    icpc_working_days: PositiveInt = 15
    first_review_months: PositiveInt = 3
    review_months: PositiveInt = 6
    reports_before_working_days: NonNegativeInt = Field(
        default=2, description="Reports reach the parents this many working days before."
    )
    invitations: InvitationRule = InvitationRule()
    quorum: QuorumRule = QuorumRule()


def merge_documents(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: tables merge key by key, lists and values are replaced."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_documents(current, value)
        else:
            merged[key] = value
    return merged


def parse_rules(document: Mapping[str, Any]) -> ConferenceRules:
    """`ConferenceRules` from a (merged) document; `RulesError` says what is wrong."""
    data = {k: v for k, v in document.items() if k != "extends"}
    try:
        return ConferenceRules.model_validate(data)
    except ValueError as exc:
        raise RulesError(f"conference rules {data.get('name', '<unnamed>')}: {exc}") from exc
