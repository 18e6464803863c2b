"""Out-of-hours events: missing children, police protection and the duty team's actions.

They fall on weekday evenings and nights (17:00–09:00), weekends and bank holidays. A police
protection (at most 72 hours) is followed by the duty team's action and, within 72 hours, its
end; some missing-child reports lead to a duty action too. Children are a mix of known ones and
new households.
"""

from __future__ import annotations

import random
from collections.abc import Set
from datetime import date, datetime, timedelta
from uuid import UUID

from services.simulate.domain.calendar import is_working_day, local_moment
from services.simulate.domain.draws import poisson
from services.simulate.domain.emitter import Emitter
from services.simulate.domain.people import Child, Population
from services.simulate.domain.workforce import WorkforceWriter

MISSING_PER_DAY = 1.2
PROTECTIONS_PER_DAY = 0.2
DUTY_ACTIONS_PER_DAY = 2.0
ACTIONS = (
    ("welfare_check", "Welfare check requested by police; child safe and well.", "routine"),
    ("advice", "Advice to a parent about a teenager refusing to come home.", "routine"),
    ("family_breakdown", "Parent refused to have the child home; placed with an aunt.", "today"),
    ("emergency_placement", "Emergency foster placement found after a family breakdown.", "today"),
    ("strategy_discussion", "Strategy discussion with police after an injury.", "immediate"),
    ("other", "Call from hospital about a child attending the emergency department.", "today"),
)  # fmt: skip
MISSING_ACTION = ("missing_child", "Liaised with police; return home interview arranged.", "today")
PROTECTION_ACTION = ("police_protection", "Emergency foster placement under police protection.",
                     "immediate")  # fmt: skip


class OutOfHours:
    def __init__(
        self,
        rng: random.Random,
        emitter: Emitter,
        people: Population,
        holidays: Set[date],
        workforce: WorkforceWriter,
    ) -> None:
        self._rng = rng
        self._workforce = workforce
        self._out = emitter
        self._people = people
        self._holidays = holidays
        self._seq = 0

    def run(self, day: date, scale: float) -> None:
        for _ in range(poisson(self._rng, MISSING_PER_DAY * scale)):
            self._missing(day)
        for _ in range(poisson(self._rng, PROTECTIONS_PER_DAY * scale)):
            self._protection(day)
        for _ in range(poisson(self._rng, DUTY_ACTIONS_PER_DAY * scale)):
            self._action(self._child(), self._moment(day), self._rng.choice(ACTIONS))

    def _moment(self, day: date) -> datetime:
        """A random out-of-hours moment on ``day``."""
        if not is_working_day(day, self._holidays):
            return local_moment(day, self._rng.randint(0, 24 * 60 - 1))
        if self._rng.random() < 0.7:
            return local_moment(day, self._rng.randint(17 * 60, 24 * 60 - 1))
        return local_moment(day, self._rng.randint(0, 9 * 60 - 1))

    def _child(self) -> Child:
        known = self._people.known_child() if self._rng.random() < 0.5 else None
        return known or self._people.new_family(children=self._rng.randint(1, 2)).children[0]

    def _police_ref(self, at: datetime) -> str:
        self._seq += 1
        return f"14/{900_000 + self._seq:06d}/{at.year % 100:02d}"

    def _missing(self, day: date) -> None:
        rng = self._rng
        child = self._child()
        reported = self._moment(day)
        event_id = self._out.emit(
            "child.missing_reported", reported, agency="police", system="niche-rms",
            ref=self._police_ref(reported), child_id=child.child_id, family_id=child.family_id,
            payload={"missing_id": self._out.new_id(), "reported_at": reported,
                     "last_seen_at": reported - timedelta(minutes=rng.randint(60, 600)),
                     "missing_from": rng.choices(("home", "care_placement", "school", "other"),
                                                 weights=(60, 32, 3, 5))[0],
                     "risk": rng.choices(("no_apparent_risk", "low", "medium", "high"),
                                         weights=(20, 40, 30, 10))[0],
                     "police_ref": self._police_ref(reported)},
        )  # fmt: skip
        if rng.random() < 0.35:
            at = reported + timedelta(minutes=rng.randint(20, 120))
            self._action(child, at, MISSING_ACTION, cause=event_id)

    def _protection(self, day: date) -> None:
        rng = self._rng
        child = self._child()
        started = self._moment(day)
        ref = self._police_ref(started)
        protection_id = self._out.new_id()
        event_id = self._out.emit(
            "police.protection_started", started, agency="police", system="niche-rms", ref=ref,
            child_id=child.child_id, family_id=child.family_id,
            payload={"protection_id": protection_id, "started_at": started, "police_ref": ref,
                     "summary": "Child found alone at home at night; parents intoxicated."},
        )  # fmt: skip
        at = started + timedelta(minutes=rng.randint(20, 90))
        self._action(child, at, PROTECTION_ACTION, cause=event_id)
        ended = started + timedelta(hours=rng.randint(4, 70), minutes=rng.randint(0, 59))
        self._out.emit(
            "police.protection_ended", ended, agency="police", system="niche-rms", ref=ref,
            child_id=child.child_id, family_id=child.family_id, causation_id=event_id,
            payload={"protection_id": protection_id, "ended_at": ended,
                     "outcome": rng.choices(("returned_home", "la_accommodation",
                                             "emergency_protection_order", "other"),
                                            weights=(55, 35, 7, 3))[0]},
        )  # fmt: skip

    def _action(
        self, child: Child, at: datetime, action: tuple[str, str, str], cause: UUID | None = None
    ) -> None:
        kind, summary, urgency = action
        at = max(at, self._workforce.ready_at)  # the duty worker is in the directory by then
        self._out.emit(
            "ooh.action_recorded", at, agency="ooh", system="edt-records",
            ref=f"EDT-{self._rng.randint(100_000, 999_999)}", child_id=child.child_id,
            family_id=child.family_id, causation_id=cause,
            payload={"action_id": self._out.new_id(), "action_at": at, "kind": kind,
                     "urgency": urgency, "summary": summary,
                     "decision_reason": "Could not wait until the next working day.",
                     "worker": self._workforce.member(self._workforce.team_id("EDT"), at,
                                                      draw=self._rng.randint(1, 12))},
        )  # fmt: skip
