"""One referral episode, from ``referral.accepted`` to ``case.closed``, planned in one go.

Given a referral, ``EpisodeWriter.run`` draws the whole path a real case could take — a referral
closed with no further action; or an assessment (mostly authorised within 45 working days, some
late), possibly a strategy discussion and section 47 enquiry, an ICPC (mostly within 15 working
days, some late, never on a weekend or bank holiday), a child protection plan with core groups,
visits and review conferences, and finally the closure — and emits each event at its moment.
Every event follows the referral and the one before it; a plan starts on the ICPC date and ends
before the case closes, so a child never has two open plans. Returns when the case closes.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.simulate.domain.calendar import add_months, add_working_days, london_day
from services.simulate.domain.casewriter import Referral
from services.simulate.domain.protection import ProtectionWriter

FACTORS = {
    "domestic_abuse": (("3B", "3A", "3C"), ("2B", "1B", "4B", "17A")),
    "neglect": (("16A",), ("4B", "2B", "1B", "5B")),
    "physical_abuse": (("18C",), ("3B", "1B", "4B")),
    "sexual_abuse": (("19C", "19B"), ("4A", "15A")),
    "emotional_abuse": (("17A",), ("4B", "3B")),
    "child_exploitation": (("24A", "11A"), ("10A", "2A", "13A")),
    "missing": (("10A",), ("24A", "11A")),
    "mental_health": (("4A", "15A"), ("4B",)),
    "substance_misuse": (("2B", "1B"), ("2A", "4B")),
    "parenting_capacity": (("16A", "4B"), ("5B", "6B")),
    "behaviour": (("14A",), ("4A", "13A")),
    "unborn": (("4B", "2B", "3B"), ("16A", "5B")),
}
CONTINUING = frozenset({"cin_plan", "further_action", "section_47"})
"""Assessment outcomes after which the case moves to the locality team (unless on a CP plan)."""


class EpisodeWriter(ProtectionWriter):
    def _close(
        self, r: Referral, at: datetime, cause: UUID, reason: str, nfa: bool = False
    ) -> datetime:
        self._emit(
            "case.closed",
            at,
            r,
            cause,
            {"referral_id": r.referral_id, "closed_at": at, "reason": reason, "referral_nfa": nfa},
        )
        self._workforce.close(r.referral_id, at)
        return at

    # -- the episode ---------------------------------------------------------------------------

    def run(self, r: Referral, team: str) -> datetime:
        """The episode in the assessment team ``team`` (an id of the workforce directory)."""
        rng = self._rng
        self._latest = r.referral_at
        cause = self._emit(
            "referral.accepted",
            r.referral_at,
            r,
            r.causation_id,
            {
                "referral_id": r.referral_id,
                "contact_id": r.contact_id,
                "referral_at": r.referral_at,
                "referral_source": r.referral_source,
                "primary_need": self._primary_need(r),
                "team": team,
                "worker": self._workforce.member(team, r.referral_at, draw=rng.randint(1, 140)),
                "child": r.child.details(),
            },
        )
        if rng.random() < 0.05:
            closed = self._work_time(self._wd(r.referral_at, rng.randint(0, 2)), r.referral_at)
            return self._close(r, closed, cause, "RC8", nfa=True)
        started = self._work_time(
            self._wd(r.referral_at, rng.choice((0, 1, 1, 2, 3))), r.referral_at
        )
        assessment_id = self._out.new_id()
        cause = self._emit(
            "assessment.started",
            started,
            r,
            cause,
            {
                "assessment_id": assessment_id,
                "referral_id": r.referral_id,
                "started_at": started,
                "team": team,
                "worker": self._workforce.allocate(
                    r.child, r.referral_id, team, r.referral_at, started, draw=rng.randint(1, 140)
                ),
            },
        )
        late = rng.random() < 0.13
        span = rng.randint(46, 75) if late else int(rng.triangular(8, 45, 30))
        authorised = self._work_time(self._wd(started, span), started)
        for _ in range(rng.choice((1, 1, 2))):
            seen = self._work_time(self._wd(started, rng.randint(1, max(1, span - 1))), started)
            if seen < authorised:
                self._visit(r, seen, cause, "assessment", None)
        plan_end = None
        s47 = False
        if rng.random() < 0.10 + 0.5 * r.severity:
            s47, plan_end = self._protection(r, cause)
        outcome = self._assessment_outcome(s47, plan_end is not None)
        factors = (
            ["21"] if outcome == "no_further_action" and rng.random() < 0.3 else self._factors(r)
        )
        cause = self._emit(
            "assessment.authorised",
            authorised,
            r,
            cause,
            {
                "assessment_id": assessment_id,
                "referral_id": r.referral_id,
                "authorised_at": authorised,
                "child_seen": rng.random() < 0.97,
                "factors": factors,
                "outcome": outcome,
                "late_reason": "Delayed by the family's availability and agency checks."
                if late
                else None,
            },
        )
        if outcome in CONTINUING:
            self._workforce.transfer(r.referral_id, authorised, "cin", unless_cp=True)
        return self._closure(r, outcome, self._latest, cause)

    def _closure(self, r: Referral, outcome: str, last: datetime, cause: UUID) -> datetime:
        rng = self._rng
        if outcome == "no_further_action":
            return self._close(
                r, self._work_time(self._wd(last, rng.randint(0, 2)), last), cause, "RC8"
            )
        if outcome == "early_help":
            return self._close(
                r, self._work_time(self._wd(last, rng.randint(0, 5)), last), cause, "RC9"
            )
        months = rng.randint(3, 9)
        end_day = add_months(london_day(last), months)
        visit_day = self._wd(last, 10)
        while visit_day < end_day:
            self._visit(r, self._work_time(visit_day, last), cause, "cin", None)
            visit_day = add_working_days(visit_day, rng.randint(15, 22), self._holidays)
        reason = rng.choices(("RC7", "RC5", "RC3", "RC4", "RC6"), weights=(90, 5, 2, 2, 1))[0]
        closed = self._work_time(end_day, last)
        return self._close(r, closed, cause, reason)

    def _primary_need(self, r: Referral) -> str:
        if r.severity >= 0.5 or self._rng.random() < 0.45:
            return "N1"
        if r.child.disabilities not in ((), ("NONE",)) and self._rng.random() < 0.5:
            return "N2"
        return self._rng.choice(("N4", "N5", "N3", "N6", "N8", "N0", "N7"))

    def _factors(self, r: Referral) -> list[str]:
        main, extra = FACTORS.get(r.concern, (("20",), ("4B", "16A")))
        chosen = [self._rng.choice(main)]
        for code in self._rng.sample(extra, self._rng.randint(0, min(2, len(extra)))):
            if code not in chosen:
                chosen.append(code)
        return chosen

    def _assessment_outcome(self, s47: bool, plan: bool) -> str:
        if plan:
            return "section_47"
        if s47:
            return self._rng.choice(("cin_plan", "cin_plan", "further_action", "section_47"))
        return self._rng.choices(
            ("cin_plan", "no_further_action", "early_help", "further_action"),
            weights=(30, 40, 20, 10),
        )[0]
