"""Ofsted Annex A lists 1, 3, 4, 5 and 7 from children's histories.

One row per child per event in the six months before the as-of date (``periods.months_before``):
List 1 every contact received in the window; List 3 every referral received in it; List 4 every
assessment open at some point in it (started before the as-of date, not authorised before the
window); List 5 every section 47 enquiry open at some point in it (its end is the ICPC, or the
decision that no ICPC is needed); List 7 every child protection plan open at some point in it.
The count columns count the child's events of that kind in the twelve months before the as-of
date, the row's own event included (a child referred twice in that year shows 2 on both rows);
"Number of Previous Child Protection Plans" counts the child's plans that started before this
one. Allocated team and worker: the referral's for List 3, the assessment's for List 4, the
episode's latest for Lists 5 and 7. Dates are Europe/London dd/mm/yyyy; ages are whole years on
the as-of date. An item the history lacks is left blank and reported as a gap, never invented.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from services.returns.domain import annex_a_codes as codes
from services.returns.domain.details import age_in_years
from services.returns.domain.history import ChildHistory, Episode, Plan, Section47
from services.returns.domain.issues import Issue, gap
from services.returns.domain.periods import Period, london_date, months_before

Cell = str | int | None

GAP_RULES = {
    "gender": "4180",
    "ethnicity": "4220",
    "date of birth": "8525Q",
    "disability": "8540",
    "strategy discussion": "8615",
}
"""The DfE CIN validation rule (csc-validator-be-cin, cin2024_25) that requires the same item a
gap leaves blank: Sex must be provided (4180), Ethnicity missing (4220), a date of birth or an
expected one (8525Q), Disability missing (8540), the section 47 start date — the strategy
discussion that started it — must be present (8615). The gaps file names it so an analyst
knows which census check the same child would also fail."""
Row = tuple[Cell, ...]


class AnnexAList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    title: str
    headings: tuple[str, ...]
    rows: tuple[Row, ...]


class AnnexA(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    window: Period
    lists: tuple[AnnexAList, ...]
    issues: tuple[Issue, ...]


def dmy(moment: datetime | date | None) -> str | None:
    """dd/mm/yyyy of a Europe/London date (an instant is converted first); None stays None."""
    if moment is None:
        return None
    day = london_date(moment) if isinstance(moment, datetime) else moment
    return day.strftime("%d/%m/%Y")


class _Child:
    """One child's common cells and the gaps found while writing their rows."""

    def __init__(self, history: ChildHistory, as_of: date, gaps: dict[tuple[str, str], Issue]):
        self.history = history
        self.as_of = as_of
        self._gaps = gaps
        d = history.details
        cid = history.child_id
        if d is None:
            for item in ("gender", "ethnicity", "date of birth"):
                self.note_gap(
                    item, "no contact or referral in the history carries the child's details"
                )
            self.common: Row = (cid, None, None, None, None)
            return
        born = d.date_of_birth
        if born is None and d.expected_birth_date is not None and d.expected_birth_date < as_of:
            self.note_gap(
                "date of birth",
                f"only an expected birth date ({dmy(d.expected_birth_date)}) is recorded "
                "and it has passed",
                "8530Q",  # an expected birth date outside the census's expected range
            )
        age = age_in_years(born, as_of) if born is not None else None
        self.common = (cid, codes.GENDER[d.sex], codes.ETHNICITY[d.ethnicity], dmy(born), age)

    def note_gap(self, item: str, message: str, rule: str | None = None) -> None:
        key = (self.history.child_id, item)
        rule = rule or GAP_RULES[item]
        self._gaps.setdefault(key, gap(self.history.child_id, item, message, rule))

    def disability(self) -> str:
        d = self.history.details
        has = d.has_disability if d is not None else None
        if has is None:
            self.note_gap("disability", "no disability information (or NONE) is recorded")
        return codes.yes_no(has)


def annex_a(histories: Iterable[ChildHistory], *, as_of: date) -> AnnexA:
    """The five lists as of the start of ``as_of``, with the gaps found."""
    window = months_before(as_of, 6)
    year = months_before(as_of, 12)
    gaps: dict[tuple[str, str], Issue] = {}
    rows: dict[int, list[tuple[tuple[date, str], Row]]] = {n: [] for n in codes.HEADINGS}
    for history in histories:
        child = _Child(history, as_of, gaps)
        for number, key, cells in _rows(child, window, year):
            rows[number].append((key, (*child.common, *cells)))
    lists = tuple(
        AnnexAList(
            number=number,
            title=codes.TITLES[number],
            headings=codes.HEADINGS[number],
            rows=tuple(row for _, row in sorted(rows[number], key=lambda item: item[0])),
        )
        for number in codes.HEADINGS
    )
    issues = tuple(sorted(gaps.values(), key=lambda i: (i.child_id, i.item)))
    return AnnexA(as_of=as_of, window=window, lists=lists, issues=issues)


_Produced = Iterable[tuple[int, tuple[date, str], Row]]


def _rows(child: _Child, window: Period, year: Period) -> _Produced:
    h = child.history
    cid = h.child_id
    for contact in h.contacts:
        if window.holds(contact.at):
            yield 1, (london_date(contact.at), cid), (dmy(contact.at), codes.SOURCE[contact.source])
    referrals_in_year = sum(1 for e in h.episodes if year.holds(e.referral_at))
    s47s_in_year = sum(1 for e in h.episodes for s in e.s47s if year.holds(s.started_at))
    icpcs_in_year = sum(1 for e in h.episodes for s in e.s47s if year.holds(s.icpc_at))
    for episode in h.episodes:
        if window.holds(episode.referral_at):
            first = episode.allocations[0]
            yield (
                3,
                (london_date(episode.referral_at), cid),
                (
                    dmy(episode.referral_at),
                    codes.SOURCE[episode.source],
                    codes.yes_no(episode.referral_nfa),
                    referrals_in_year,
                    first.team,
                    first.worker,
                ),
            )
        yield from _assessment_rows(child, episode, window)
        for s47 in episode.s47s:
            if _open_in(window, s47.started_at, _s47_end(s47)):
                yield (
                    5,
                    (london_date(s47.started_at), cid),
                    (
                        child.disability(),
                        *_s47_cells(child, s47),
                        s47s_in_year,
                        icpcs_in_year,
                        *_latest_allocation(episode, window),
                    ),
                )
        for plan in episode.plans:
            if _open_in(window, plan.started_at, plan.ended_at):
                yield (
                    7,
                    (london_date(plan.started_at), cid),
                    (
                        child.disability(),
                        *_plan_cells(h, plan, window),
                        *_latest_allocation(episode, window),
                    ),
                )


def _open_in(window: Period, start: datetime, end: datetime | None) -> bool:
    return start < window.ends_at and (end is None or end >= window.starts_at)


def _assessment_rows(child: _Child, episode: Episode, window: Period) -> _Produced:
    for a in episode.assessments:
        if not _open_in(window, a.started_at, a.authorised_at):
            continue
        done = a.authorised_at is not None
        yield (
            4,
            (london_date(a.started_at), child.history.child_id),
            (
                child.disability(),
                dmy(a.started_at),
                codes.yes_no(a.child_seen) if done else None,
                dmy(a.authorised_at),
                codes.yes_no(a.requires_support) if done else None,
                a.team,
                a.worker,
            ),
        )


def _s47_end(s47: Section47) -> datetime | None:
    if s47.icpc_at is not None:
        return s47.icpc_at
    return s47.completed_at if s47.icpc_required is False else None


def _s47_cells(child: _Child, s47: Section47) -> Row:
    if s47.strategy_held_at is None:
        child.note_gap(
            "strategy discussion",
            f"the section 47 enquiry started {dmy(s47.started_at)} names a strategy discussion "
            "the history does not hold",
        )
    unnecessary = None if s47.icpc_required is None else codes.yes_no(not s47.icpc_required)
    if s47.icpc_at is not None:
        unnecessary = codes.NO
    made_plan = None if s47.icpc_made_plan is None else codes.yes_no(s47.icpc_made_plan)
    return (dmy(s47.strategy_held_at), unnecessary, dmy(s47.icpc_at), made_plan)


def _plan_cells(history: ChildHistory, plan: Plan, window: Period) -> Row:
    until = window.ends_at
    visits = [v for v in plan.visits if v.at < until]
    last_visit = max(visits, key=lambda v: v.at) if visits else None
    reviews = [r.at for r in plan.reviews if r.at < until]
    protected = any(window.holds(at) for at in history.protections)
    previous = sum(1 for p in history.plans if p.started_at < plan.started_at)
    return (
        dmy(plan.started_at),
        codes.CATEGORY[plan.initial_category],
        codes.CATEGORY[plan.latest_category(until)],
        dmy(last_visit.at) if last_visit else None,
        codes.yes_no(last_visit.seen_alone) if last_visit else None,
        dmy(max(reviews)) if reviews else None,
        dmy(plan.ended_at),
        codes.yes_no(protected),
        previous,
    )


def _latest_allocation(episode: Episode, window: Period) -> Row:
    allocation = episode.allocation(window.ends_at)
    return (allocation.team, allocation.worker)
