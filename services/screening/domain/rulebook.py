"""Every edition of the triage rules, and which one is in force on an event's date.

A contact is triaged by the edition in force on its own date (its ``contact_at``, as a
Europe/London day) — never by a setting or by the day it happens to be processed — so a May 2011
notification replayed today is triaged by the 2011 rules (no Operation Encompass), and a rebuild
from ``events`` gives the same answer as the live run (DOMAIN.md §2 "which rules apply";
DESIGN.md "Event time"). An edition is in force from its ``effective_from`` to its
``effective_to``, or, when that is left out, to the day before the next edition starts; the last
edition has no end. The book is checked when it loads: versions unique, no two editions in force
on one day, no day between the first edition and the last without one. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from schemas.envelope import LONDON
from services.screening.domain.rules import RuleSet


class RuleBookError(ValueError):
    """The editions do not form one unbroken, non-overlapping sequence of dates."""


class NoRulesInForceError(ValueError):
    """No edition of the triage rules was in force on a contact's date."""


@dataclass(frozen=True)
class Edition:
    """One rule set with the days it is in force (``last`` inclusive; ``None``: no end)."""

    rules: RuleSet
    first: date
    last: date | None


@dataclass(frozen=True)
class RuleBook:
    editions: tuple[Edition, ...]

    @classmethod
    def of(cls, rule_sets: list[tuple[str, RuleSet]]) -> RuleBook:
        """The book of ``(origin, rule set)`` pairs; errors name the origins that clash."""
        if not rule_sets:
            raise RuleBookError("no triage rule set was found")
        ordered = sorted(rule_sets, key=lambda item: item[1].effective_from)
        versions: dict[str, str] = {}
        editions: list[Edition] = []
        for index, (origin, rules) in enumerate(ordered):
            if rules.version in versions:
                raise RuleBookError(
                    f"{origin}: version {rules.version!r} is also used by {versions[rules.version]}"
                )
            versions[rules.version] = origin
            following = ordered[index + 1] if index + 1 < len(ordered) else None
            last = rules.effective_to
            if following is not None:
                next_origin, next_rules = following
                if next_rules.effective_from == rules.effective_from:
                    raise RuleBookError(
                        f"{origin} and {next_origin} both take effect on "
                        f"{rules.effective_from.isoformat()}"
                    )
                day_before = next_rules.effective_from - timedelta(days=1)
                if last is None:
                    last = day_before
                elif last > day_before:
                    raise RuleBookError(
                        f"{origin}: effective_to {last.isoformat()} overlaps {next_origin}, in "
                        f"force from {next_rules.effective_from.isoformat()}"
                    )
                elif last < day_before:
                    raise RuleBookError(
                        f"{origin}: effective_to {last.isoformat()} leaves the days to "
                        f"{day_before.isoformat()} without rules before {next_origin}"
                    )
            editions.append(Edition(rules, rules.effective_from, last))
        return cls(tuple(editions))

    @property
    def current(self) -> RuleSet:
        """The latest edition."""
        return self.editions[-1].rules

    def in_force(self, moment: datetime) -> RuleSet:
        """The edition in force on ``moment``'s Europe/London date."""
        day = moment.astimezone(LONDON).date()
        index = bisect_right([e.first for e in self.editions], day) - 1
        if index >= 0:
            edition = self.editions[index]
            if edition.last is None or day <= edition.last:
                return edition.rules
        span = ", ".join(
            f"{e.rules.version} {e.first.isoformat()}–{e.last.isoformat() if e.last else ''}"
            for e in self.editions
        )
        raise NoRulesInForceError(
            f"no triage rule set is in force on {day.isoformat()} (editions: {span})"
        )
