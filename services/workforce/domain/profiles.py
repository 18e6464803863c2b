"""Workforce profiles: the dated rules (supervision cadence, ASYE, caseload weights and caps).

A profile is versioned data (``services/workforce/policies/workforce.toml``), validated when it is
parsed with errors that name the place (``profiles.lga2020.nqsw_steps[1].every``). Invariant: the
profiles' periods neither overlap nor leave a gap, so every date from the first profile on has
exactly one profile in force (``ProfileBook.in_force``); a date before the first is an error, not
a silent default.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from schemas.events.workforce import CaseType, SupervisionKind
from services.common.calendar import shift_months

_DURATION = re.compile(r"^(\d{1,3})([dwm])$")


class ProfileError(ValueError):
    """The profile data is not shaped as documented; the message names the place."""


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # "d", "w" or "m"

    def after(self, day: date) -> date:
        if self.unit == "m":
            return shift_months(day, self.amount)
        return day + timedelta(days=self.amount * (7 if self.unit == "w" else 1))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Step:
    until: Duration
    every: Duration


@dataclass(frozen=True)
class Profile:
    name: str
    in_force_from: date
    in_force_until: date | None
    programme: str
    nqsw_steps: tuple[Step, ...]
    experienced_every: Duration
    min_minutes: int
    counted_kinds: frozenset[SupervisionKind]
    programme_months: int
    review_months: tuple[int, ...]
    nqsw_factor: Decimal
    cap_points: Decimal
    """Weighted points a full-time experienced worker may hold; an NQSW ``nqsw_factor`` of it."""
    nqsw_cp_co_worked: bool
    dfe_implausible_per_fte: Decimal
    allocation_working_days: int
    points: Mapping[CaseType, Decimal]
    oversight_days: Mapping[CaseType, int]


@dataclass(frozen=True)
class ProfileBook:
    profiles: tuple[Profile, ...]

    def in_force(self, day: date) -> Profile:
        for p in self.profiles:
            if p.in_force_from <= day and (p.in_force_until is None or day < p.in_force_until):
                return p
        raise ProfileError(f"no workforce profile is in force on {day.isoformat()}")

    def named(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise ProfileError(f"no workforce profile named {name!r}")


def _duration(value: object, where: str) -> Duration:
    m = _DURATION.match(value) if isinstance(value, str) else None
    if m is None:
        raise ProfileError(f"{where} must be a duration like '7d', '6w' or '1m'")
    return Duration(int(m.group(1)), m.group(2))


def _get(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise ProfileError(f"{where}.{key} is missing")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProfileError(f"{where}.{key} has the wrong type")
    return value


def _per_case_type(table: object, where: str) -> dict[CaseType, Decimal]:
    if not isinstance(table, dict):
        raise ProfileError(f"{where} must be a table of case type → number")
    missing = {c.value for c in CaseType} - set(table)
    unknown = set(table) - {c.value for c in CaseType}
    if missing or unknown:
        raise ProfileError(
            f"{where} must name every case type once (missing {sorted(missing)}, "
            f"unknown {sorted(unknown)})"
        )
    return {CaseType(k): Decimal(str(v)) for k, v in table.items()}


def _profile(name: str, t: Mapping[str, Any]) -> Profile:
    w = f"profiles.{name}"
    steps = []
    for i, s in enumerate(_get(t, "nqsw_steps", list, w)):
        if not isinstance(s, dict):
            raise ProfileError(f"{w}.nqsw_steps[{i}] must be a table")
        steps.append(
            Step(
                _duration(s.get("until"), f"{w}.nqsw_steps[{i}].until"),
                _duration(s.get("every"), f"{w}.nqsw_steps[{i}].every"),
            )
        )
    kinds = _get(t, "counted_kinds", list, w)
    try:
        counted = frozenset(SupervisionKind(k) for k in kinds)
    except ValueError:
        raise ProfileError(
            f"{w}.counted_kinds names a kind that is not a supervision kind"
        ) from None
    until = t.get("in_force_until")
    if until is not None and not isinstance(until, date):
        raise ProfileError(f"{w}.in_force_until must be a date")
    return Profile(
        name=name,
        in_force_from=_get(t, "in_force_from", date, w),
        in_force_until=until,
        programme=_get(t, "programme", str, w),
        nqsw_steps=tuple(steps),
        experienced_every=_duration(t.get("experienced_every"), f"{w}.experienced_every"),
        min_minutes=_get(t, "min_minutes", int, w),
        counted_kinds=counted,
        programme_months=_get(t, "programme_months", int, w),
        review_months=tuple(_get(t, "review_months", list, w)),
        nqsw_factor=Decimal(str(_get(t, "nqsw_factor", (int, float), w))),
        cap_points=Decimal(str(_get(t, "cap_points", (int, float), w))),
        nqsw_cp_co_worked=_get(t, "nqsw_cp_co_worked", bool, w),
        dfe_implausible_per_fte=Decimal(str(_get(t, "dfe_implausible_per_fte", (int, float), w))),
        allocation_working_days=_get(t, "allocation_working_days", int, w),
        points=_per_case_type(t.get("points"), f"{w}.points"),
        oversight_days={
            k: int(v)
            for k, v in _per_case_type(t.get("oversight_days"), f"{w}.oversight_days").items()
        },
    )


def parse_profiles(document: Mapping[str, Any]) -> ProfileBook:
    """The profile book from a parsed TOML document; ``ProfileError`` naming the place if bad."""
    tables = document.get("profiles")
    if not isinstance(tables, dict) or not tables:
        raise ProfileError("the workforce profiles need a [profiles.<name>] table")
    profiles = sorted((_profile(n, t) for n, t in tables.items()), key=lambda p: p.in_force_from)
    for a, b in itertools.pairwise(profiles):
        if a.in_force_until != b.in_force_from:
            raise ProfileError(
                f"profiles.{a.name} must end (in_force_until) when profiles.{b.name} begins"
            )
    if profiles[-1].in_force_until is not None:
        raise ProfileError(f"profiles.{profiles[-1].name}, the last, must have no in_force_until")
    return ProfileBook(tuple(profiles))
