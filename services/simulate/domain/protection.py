"""The child protection path of an episode: strategy discussion, section 47 enquiry, ICPC, and the
child protection plan with its core groups, statutory visits, review conferences and end.

The ICPC is mostly within 15 working days of the strategy discussion (some late) and, like every
review, on a working day (never a weekend or bank holiday). The plan starts on the ICPC date and
ends at the review that decides it no longer continues.

Agencies answer frontdoor's invitations, as real ones do: each conference carries the id
frontdoor's conferences service gives it (``services/common/conference_ids.py``: the ICPC by the
child and the strategy discussion, a review by its plan and number — one shared function, no
copy), and every agency frontdoor invites (the shipped rules' always-invited agencies plus those
in the strategy discussion, ``INVITED_ALWAYS``) submits a report for it after the invitation was
issued: most by the report deadline (``REPORTS_BEFORE_WORKING_DAYS`` before the target date or
the booked day, whichever is earlier), a few late but before the conference.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from services.common.conference_ids import icpc_id, review_id
from services.simulate.domain.calendar import (
    add_months,
    add_working_days,
    is_out_of_hours,
    local_moment,
    london_day,
    subtract_working_days,
    working_day_on_or_before,
)
from services.simulate.domain.casewriter import CaseWriter, Referral

CATEGORIES = {
    "domestic_abuse": (("EMO", 70), ("MUL", 10), ("NEG", 15), ("PHY", 5)),
    "neglect": (("NEG", 85), ("MUL", 10), ("EMO", 5)),
    "physical_abuse": (("PHY", 70), ("MUL", 15), ("NEG", 15)),
    "sexual_abuse": (("SAB", 80), ("MUL", 20)),
}
DEFAULT_CATEGORIES = (("NEG", 50), ("EMO", 35), ("PHY", 7), ("SAB", 4), ("MUL", 4))
INVITED_ALWAYS = ("social_care", "police", "health")
"""Who frontdoor's conference rules always invite (``[invitations] always`` in wt2010/wt2013)."""
STRATEGY_EXTRAS = ("education", "housing", "probation")
"""Agencies that sometimes join a strategy discussion, and so are invited to the ICPC too."""
ICPC_WORKING_DAYS = 15
REPORTS_BEFORE_WORKING_DAYS = 2
LATE_REPORT_SHARE = 0.03


class ProtectionWriter(CaseWriter):
    # -- strategy, s47, ICPC and the plan ------------------------------------------------------

    def _protection(self, r: Referral, cause: UUID) -> tuple[bool, datetime | None]:
        """Strategy discussion → s47 → ICPC → plan; returns (s47 held, plan end or None)."""
        rng = self._rng
        day = self._wd(r.referral_at, rng.choice((0, 0, 1, 1, 2, 3, 4)))
        held = self._work_time(day, r.referral_at)
        out_of_hours = rng.random() < 0.1
        if out_of_hours:
            held = max(held, r.referral_at) + timedelta(hours=rng.randint(3, 9))
            out_of_hours = is_out_of_hours(held, self._holidays)
        strategy_id = self._out.new_id()
        extras = rng.sample(STRATEGY_EXTRAS, rng.choice((0, 0, 1, 1, 2)))
        agencies = [*INVITED_ALWAYS, *(a for a in STRATEGY_EXTRAS if a in extras)]
        outcome = rng.choices(
            ("section_47", "single_assessment", "no_further_action"), weights=(80, 15, 5)
        )[0]
        cause = self._emit(
            "strategy_discussion.held",
            held,
            r,
            cause,
            {
                "strategy_id": strategy_id,
                "referral_id": r.referral_id,
                "held_at": held,
                "held_out_of_hours": out_of_hours,
                "agencies": agencies,
                "outcome": outcome,
            },
        )
        if outcome != "section_47":
            return False, None
        s47_id = self._out.new_id()
        started = held + timedelta(minutes=rng.randint(20, 120))
        cause = self._emit(
            "s47.started",
            started,
            r,
            cause,
            {
                "s47_id": s47_id,
                "strategy_id": strategy_id,
                "referral_id": r.referral_id,
                "started_at": started,
                "held_out_of_hours": out_of_hours,
            },
        )
        icpc_required = rng.random() < 0.5
        offset = rng.randint(8, 15) if rng.random() < 0.85 else rng.randint(16, 25)
        icpc_day = self._wd(held, offset)
        completed_day = add_working_days(
            london_day(held), max(2, offset - rng.randint(1, 4)), self._holidays
        )
        completed = self._work_time(completed_day, started)
        cause = self._emit(
            "s47.completed",
            completed,
            r,
            cause,
            {
                "s47_id": s47_id,
                "referral_id": r.referral_id,
                "completed_at": completed,
                "concerns_substantiated": icpc_required or rng.random() < 0.4,
                "icpc_required": icpc_required,
            },
        )
        if not icpc_required:
            return True, None
        conference_at = local_moment(icpc_day, rng.choice((10 * 60, 13 * 60 + 30)))
        if conference_at <= completed:
            conference_at = local_moment(self._wd(completed, 1), 10 * 60)
        conference_id = icpc_id(r.child.child_id, strategy_id)
        target = add_working_days(london_day(held), ICPC_WORKING_DAYS, self._holidays)
        self._reports(
            r, conference_id, invited=agencies, issued=held, target=target,
            conference_at=conference_at, cause=cause,
        )  # fmt: skip
        return True, self._icpc(
            r, conference_id, s47_id=s47_id, at=conference_at, agencies=agencies, cause=cause
        )

    def _reports(
        self,
        r: Referral,
        conference_id: UUID,
        *,
        invited: list[str],
        issued: datetime,
        target: date,
        conference_at: datetime,
        cause: UUID,
    ) -> None:
        """Each invited agency's report for the conference its invitation names."""
        rng = self._rng
        before = min(target, london_day(conference_at))
        due_day = subtract_working_days(before, REPORTS_BEFORE_WORKING_DAYS, self._holidays)
        due = min(local_moment(due_day, 17 * 60), conference_at - timedelta(hours=1))
        for agency in invited:
            if agency == "social_care":
                continue  # social care writes the conference report itself, not as a partner
            late = rng.random() < LATE_REPORT_SHARE
            first, last = (due, conference_at - timedelta(minutes=30)) if late else (issued, due)
            first = max(first, issued + timedelta(minutes=30))
            span = max(0, int((last - first).total_seconds() // 60))
            submitted = first + timedelta(minutes=rng.randint(0, span))
            self._out.emit(
                "conference.report_submitted",
                submitted,
                agency=agency,
                system=f"{agency}-records",
                ref=f"RPT-{rng.randint(10_000, 99_999)}",
                child_id=r.child.child_id,
                family_id=r.child.family_id,
                correlation_id=r.correlation_id,
                causation_id=cause,
                payload={
                    "report_id": self._out.new_id(),
                    "conference_id": conference_id,
                    "agency": agency,
                    "submitted_at": submitted,
                    "shared_with_family": rng.random() < 0.99,
                },
            )

    def _icpc(
        self,
        r: Referral,
        conference_id: UUID,
        *,
        s47_id: UUID,
        at: datetime,
        agencies: list[str],
        cause: UUID,
    ) -> datetime | None:
        rng = self._rng
        plan = rng.random() < 0.85
        plan_id = self._out.new_id() if plan else None
        weights = CATEGORIES.get(r.concern, DEFAULT_CATEGORIES)
        category = rng.choices([c for c, _ in weights], weights=[w for _, w in weights])[0]
        cause = self._emit(
            "conference.icpc_held",
            at,
            r,
            cause,
            {
                "conference_id": conference_id,
                "s47_id": s47_id,
                "referral_id": r.referral_id,
                "conference_at": at,
                "invited_agencies": agencies,
                "attending_agencies": agencies[: rng.randint(2, len(agencies))],
                "plan": plan,
                "plan_id": plan_id,
                "category": category if plan else None,
            },
        )
        if plan_id is None:
            return None
        self._workforce.transfer(r.referral_id, at, "cp")
        return self._plan(r, plan_id, at, category=category, agencies=agencies, cause=cause)

    def _plan(
        self,
        r: Referral,
        plan_id: UUID,
        icpc_at: datetime,
        *,
        category: str,
        agencies: list[str],
        cause: UUID,
    ) -> datetime:
        rng = self._rng
        reviews: list[datetime] = []
        review_day = london_day(icpc_at)
        for number in range(4):
            months = 3 if number == 0 else 6
            target = add_months(review_day, months) - timedelta(days=rng.randint(0, 12))
            review_day = working_day_on_or_before(target, self._holidays)
            reviews.append(local_moment(review_day, rng.choice((10 * 60, 14 * 60))))
            if rng.random() < (0.3 if number == 0 else 0.55):
                break
        ends_at = reviews[-1]
        day = self._wd(icpc_at, rng.randint(3, 10) if rng.random() < 0.9 else rng.randint(11, 15))
        while day < london_day(ends_at):
            at = self._work_time(day, icpc_at)
            self._emit(
                "core_group.held",
                at,
                r,
                cause,
                {
                    "core_group_id": self._out.new_id(),
                    "plan_id": plan_id,
                    "held_at": at,
                    "agencies": agencies,
                },
            )
            day = add_working_days(day, rng.randint(20, 30), self._holidays)
        day = self._wd(icpc_at, rng.randint(2, 8))
        while day < london_day(ends_at):
            self._visit(r, self._work_time(day, icpc_at), cause, "cp_statutory", plan_id)
            day = add_working_days(day, rng.randint(7, 10), self._holidays)
        if rng.random() < 0.2:
            friday = london_day(icpc_at) + timedelta(
                days=(4 - london_day(icpc_at).weekday()) % 7 + 7
            )
            alert_at = local_moment(friday, 15 * 60 + rng.randint(0, 100))
            if alert_at < ends_at:
                self._emit(
                    "ooh.alert_raised",
                    alert_at,
                    r,
                    cause,
                    {
                        "alert_id": self._out.new_id(),
                        "raised_at": alert_at,
                        "risk": "Risk of the father returning to the home this weekend.",
                        "contingency_plan": "Police to attend; consider police protection.",
                        "expires_at": alert_at + timedelta(days=3),
                        "team": self._workforce.alert_team(rng.randrange(3)),
                    },
                )
        latest = category
        previous = icpc_at
        for index, at in enumerate(reviews):
            continues = index < len(reviews) - 1
            if continues and rng.random() < 0.1:
                latest = rng.choice(("NEG", "EMO", "MUL"))
            conference_id = review_id(plan_id, index + 1)
            target = working_day_on_or_before(
                add_months(london_day(previous), 3 if index == 0 else 6), self._holidays
            )
            issued = previous + timedelta(seconds=1)
            self._reports(
                r, conference_id, invited=agencies, issued=issued, target=target,
                conference_at=at, cause=cause,
            )  # fmt: skip
            previous = at
            cause = self._emit(
                "conference.rcpc_held",
                at,
                r,
                cause,
                {
                    "conference_id": conference_id,
                    "plan_id": plan_id,
                    "conference_at": at,
                    "invited_agencies": agencies,
                    "attending_agencies": agencies[: rng.randint(2, len(agencies))],
                    "plan_continues": continues,
                    "latest_category": latest if continues else None,
                },
            )
        ended = reviews[-1] + timedelta(minutes=rng.randint(30, 120))
        # stepped down to a child in need plan in a locality team (if the case stays open)
        self._workforce.transfer(r.referral_id, ended, "cin")
        self._emit(
            "cp_plan.ended",
            ended,
            r,
            cause,
            {
                "plan_id": plan_id,
                "ended_at": ended,
                "reason": "review_decision",
                "conference_id": conference_id,
            },
        )
        return ended
