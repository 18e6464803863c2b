"""Shared machinery for writing one case's events: the referral it hangs on, working-hours
moments after a given instant, and emitting a casework event from the council's case system.

``CaseWriter`` remembers the latest moment it emitted for the current episode, so the episode can
close after everything that happened in it.
"""

from __future__ import annotations

import random
from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from services.simulate.domain.calendar import (
    add_working_days,
    is_out_of_hours,
    local_moment,
    london_day,
    working_day_on_or_after,
)
from services.simulate.domain.emitter import Emitter
from services.simulate.domain.people import Child
from services.simulate.domain.workforce import WorkforceWriter


@dataclass(frozen=True)
class Referral:
    child: Child
    referral_id: UUID
    contact_id: UUID | None
    referral_at: datetime
    referral_source: str
    concern: str
    severity: float
    correlation_id: UUID
    causation_id: UUID


class CaseWriter:
    def __init__(
        self,
        rng: random.Random,
        emitter: Emitter,
        holidays: Set[date],
        workforce: WorkforceWriter,
    ) -> None:
        self._rng = rng
        self._out = emitter
        self._holidays = holidays
        self._workforce = workforce
        self._ref = 700_000
        self._latest = datetime.min.replace(tzinfo=UTC)

    # -- small helpers -------------------------------------------------------------------------

    def _work_time(self, day: date, after: datetime | None = None) -> datetime:
        """A working-hours moment on the first working day on or after ``day``, after ``after``."""
        day = working_day_on_or_after(day, self._holidays)
        moment = local_moment(day, self._rng.randint(9 * 60 + 10, 16 * 60 + 40))
        if after is not None and moment <= after:
            moment = after + timedelta(minutes=self._rng.randint(10, 90))
            if is_out_of_hours(moment, self._holidays):
                return self._work_time(london_day(moment) + timedelta(days=1))
        return moment

    def working_moment(self, day: date, count: int, after: datetime) -> datetime:
        """A working-hours moment ``count`` working days after ``day``, later than ``after``."""
        return self._work_time(add_working_days(day, count, self._holidays), after)

    def _wd(self, moment: datetime, count: int) -> date:
        return add_working_days(london_day(moment), count, self._holidays)

    def _emit(
        self, event_type: str, at: datetime, r: Referral, cause: UUID, payload: dict[str, object]
    ) -> UUID:
        self._ref += 1
        self._latest = max(self._latest, at)
        return self._out.emit(
            event_type,
            at,
            agency="social_care",
            system="mosaic",
            ref=f"MOS-{self._ref}",
            child_id=r.child.child_id,
            family_id=r.child.family_id,
            payload=payload,
            correlation_id=r.correlation_id,
            causation_id=cause,
        )

    def _visit(
        self, r: Referral, at: datetime, cause: UUID, kind: str, plan_id: UUID | None
    ) -> None:
        seen = self._rng.random() < 0.94
        self._emit(
            "visit.recorded",
            at,
            r,
            cause,
            {
                "visit_id": self._out.new_id(),
                "visit_at": at,
                "kind": kind,
                "referral_id": r.referral_id,
                "plan_id": plan_id,
                "child_seen": seen,
                "seen_alone": seen and self._rng.random() < 0.6,
            },
        )
