"""The synthetic feed: a seeded, time-ordered stream of partner events for a whole borough.

``iter_feed`` walks the simulated days. Each day it draws police domestic-abuse incidents (one
notification per child of the household, often a household with earlier incidents), other
contacts by agency, the MASH screening decision on every contact (red ones within hours, most
within one working day, a few late), and for roughly one contact in six a referral whose whole
episode ``EpisodeWriter`` plans. Out-of-hours work (missing children, police protection, duty
actions) falls on evenings, nights, weekends and bank holidays. A child already open, or with a
referral pending, is passed to their team instead of being referred again. Pure: the seed, the
start date, the scale and the bank-holiday set are passed in; events are released in
``occurred_at`` order as soon as no earlier event can still be generated.

Each feed has its own child-id space (``child_prefix``, by default ``S<seed>``), so two seeds
replayed into one stack never merge unrelated children. For every child of school age (4 to 17
at the incident) in a police DA notification, the police tell the school (Operation Encompass,
``education.encompass_notified``; the police's own desk, so it may precede the notification to
the MASH): mostly before the next school
day starts (08:30 on the next working day, the SLA policy's deadline), a few late; none before
15 April 2013 (the scheme is not in the 2011 rules).

The workforce behind it (``workforce.py``: teams, workers, allocations, supervision, ASYE,
oversight, audits) is written alongside: every team and worker an event names — the MASH worker
of a screening decision, the assessment team of a referral, the duty worker of an out-of-hours
action — is one its directory holds at that moment.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from services.common.calendar import ENCOMPASS_AGE_RANGE
from services.simulate.domain.calendar import (
    is_school_day,
    is_working_day,
    local_moment,
    london_day,
    london_minutes,
    working_day_on_or_after,
)
from services.simulate.domain.casewriter import Referral
from services.simulate.domain.draws import pick, poisson
from services.simulate.domain.emitter import Emitter, Event
from services.simulate.domain.episodes import EpisodeWriter
from services.simulate.domain.outofhours import OutOfHours
from services.simulate.domain.people import Child, Population
from services.simulate.domain.sources import (
    CONTACT_SOURCES,
    DA_INCIDENTS_WEEKDAY,
    DA_INCIDENTS_WEEKEND,
    SEVERITY,
    SUMMARIES,
    ContactSource,
)
from services.simulate.domain.workforce import WorkforceWriter

DA_REPEAT_SHARE = 0.35
SCHOOL_DAY_STARTS = 8 * 60 + 30
"""Minutes after local midnight the school day starts (the Operation Encompass deadline)."""
ENCOMPASS_AGES = ENCOMPASS_AGE_RANGE  # the one home, read by screening and the SLA too
ENCOMPASS_FROM = date(2013, 4, 15)
"""No Encompass notices before the rules that have the scheme (WT 2013; mash-2011 has none)."""
ENCOMPASS_LATE_SHARE = 0.02
DA_DECISIONS = ("no_further_action", "information_and_advice", "early_help", "referral")
DA_DECISION_WEIGHTS = {
    "standard": (45, 30, 20, 5),
    "medium": (25, 25, 30, 20),
    "high": (5, 5, 20, 70),
}
DA_SUMMARIES = (
    "Police called to a verbal argument between the parents; the children were in the house.",
    "Partner assaulted the mother in the kitchen; the children heard it from upstairs.",
    "Ex-partner attended the address in breach of a non-molestation order.",
    "Damage to property during an argument; the child was present and distressed.",
)
MARKERS = (
    "non_fatal_strangulation", "threats_to_kill", "stalking", "separation", "coercive_control",
    "violence", "escalation", "honour_based_abuse", "pregnancy",
)  # fmt: skip
DECISION_REASONS = {
    "no_further_action": "Below threshold; no role for children's services.",
    "information_and_advice": "Information and advice given to the family and the referrer.",
    "early_help": "Needs can be met by early help with the family's consent.",
    "referral": "Threshold for children's social care met; referred for assessment.",
    "passed_to_open_case": "Child already open; passed to the allocated team.",
}


@dataclass
class _Contact:
    at: datetime
    children: list[Child]
    agency: str
    system: str
    referral_source: str
    concern: str
    severity: float
    priority_red: bool
    decision_weights: tuple[int, int, int, int]
    police: dict[str, object] | None = None


def iter_feed(
    *,
    start: date,
    days: int,
    seed: int,
    holidays: Set[date],
    scale: float = 1.0,
    child_prefix: str | None = None,
) -> Iterator[Event]:
    """Every event of ``days`` simulated days from ``start``, in ``occurred_at`` order.

    ``child_prefix`` starts every child and family id (default ``S<seed>``)."""
    rng = random.Random(seed)
    emitter = Emitter(rng, ends_at=local_moment(start + timedelta(days=days), 0))
    prefix = f"S{seed}" if child_prefix is None else child_prefix
    workforce = WorkforceWriter(
        emitter, seed=seed, start=start, days=days, holidays=holidays, scale=scale, prefix=prefix
    )
    people = Population(rng, start, id_prefix=prefix)
    feed = _DailyFeed(rng, emitter, people, holidays, scale, workforce=workforce)
    for index in range(days):
        day = start + timedelta(days=index)
        feed.run(day)
        yield from emitter.release_before(local_moment(day + timedelta(days=1), 0))
    yield from emitter.release_all()


def generate_feed(
    *, start: date, days: int, seed: int, holidays: Set[date], scale: float = 1.0
) -> list[Event]:
    return list(iter_feed(start=start, days=days, seed=seed, holidays=holidays, scale=scale))


class _DailyFeed:
    def __init__(
        self,
        rng: random.Random,
        emitter: Emitter,
        people: Population,
        holidays: Set[date],
        scale: float,
        *,
        workforce: WorkforceWriter,
    ) -> None:
        self._rng = rng
        self._workforce = workforce
        self._out = emitter
        self._people = people
        self._holidays = holidays
        self._scale = scale
        self._episodes = EpisodeWriter(rng, emitter, holidays, workforce)
        self._ooh = OutOfHours(rng, emitter, people, holidays, workforce)
        self._police_seq = 0

    def run(self, day: date) -> None:
        contacts = self._da_contacts(day) + self._other_contacts(day)
        contacts.sort(key=lambda c: c.at)
        for contact in contacts:
            self._screen(contact)
        self._ooh.run(day, self._scale)
        self._workforce.run(day)

    def _moment(self, day: date, hours: tuple[int, int]) -> datetime:
        return local_moment(day, self._rng.randint(hours[0] * 60, hours[1] * 60 - 1))

    def _da_contacts(self, day: date) -> list[_Contact]:
        rng = self._rng
        weekend = not is_working_day(day, self._holidays)
        mean = (DA_INCIDENTS_WEEKEND if weekend else DA_INCIDENTS_WEEKDAY) * self._scale
        contacts = []
        for _ in range(poisson(rng, mean)):
            hours = (8, 18) if rng.random() < 0.6 else (0, 24)
            contact_at = self._moment(day, hours)
            # most notifications are shared within hours of the incident, some the next day
            delay = rng.randint(45, 6 * 60) if rng.random() < 0.93 else rng.randint(6 * 60, 36 * 60)
            incident_at = contact_at - timedelta(minutes=delay)
            family = self._people.household_for_da(incident_at, DA_REPEAT_SHARE)
            previous = family.incidents_within_year(incident_at)
            family.da_incidents.append(incident_at)
            level = rng.choices(("standard", "medium", "high"), weights=(70, 20, 10))[0]
            if previous >= 2 and level == "standard" and rng.random() < 0.4:
                level = "medium"
            self._police_seq += 1
            police = self._dash(level) | {
                "police_ref": f"14/{self._police_seq:06d}/{incident_at.year % 100:02d}",
                "incident_at": incident_at,
                "children_present": rng.random() < 0.6,
                "child_injured": rng.random() < 0.03,
                "previous_incidents_12m": previous,
                "summary": rng.choice(DA_SUMMARIES),
            }
            contacts.append(
                _Contact(
                    contact_at, list(family.children), "police", "niche-rms", "6",
                    "domestic_abuse", {"standard": 0.1, "medium": 0.3, "high": 0.6}[level],
                    _is_red(police), DA_DECISION_WEIGHTS[level], police,
                )
            )  # fmt: skip
        return contacts

    def _dash(self, level: str) -> dict[str, object]:
        rng = self._rng
        count = {"standard": rng.randint(0, 9), "medium": rng.randint(10, 13)}.get(level)
        judgement = None
        if count is None:
            count = rng.randint(14, 27) if rng.random() < 0.8 else rng.randint(4, 13)
            judgement = "high" if count < 14 else None
        markers = rng.sample(MARKERS, {"standard": rng.randint(0, 1), "medium": rng.randint(1, 2),
                                       "high": rng.randint(2, 4)}[level])  # fmt: skip
        return {
            "dash_yes_count": count,
            "dash_risk_level": level,
            "officer_judgement_level": judgement,
            "high_risk_markers": markers,
        }

    def _other_contacts(self, day: date) -> list[_Contact]:
        rng = self._rng
        working = is_working_day(day, self._holidays)
        contacts = []
        for source in CONTACT_SOURCES:
            if source.term_time_only and not is_school_day(day, self._holidays):
                continue
            mean = (source.weekday_rate if working else source.weekend_rate) * self._scale
            for _ in range(poisson(rng, mean)):
                contacts.append(self._other_contact(day, source))
        return contacts

    def _other_contact(self, day: date, source: ContactSource) -> _Contact:
        rng = self._rng
        concern = pick(rng, source.concerns)
        child = None if concern == "unborn" or rng.random() > 0.2 else self._people.known_child()
        if child is None:
            family = self._people.new_family(children=rng.randint(1, 3), unborn=concern == "unborn")
            child = family.children[0]
        severity = SEVERITY.get(concern, 0.1)
        referral = round(100 * (0.12 + 0.5 * severity))
        rest = 100 - referral
        weights = (rest * 4 // 10, rest * 3 // 10, rest * 3 // 10, referral)
        return _Contact(
            self._moment(day, source.hours), [child], source.agency, source.system,
            pick(rng, source.referral_sources), concern, severity, severity >= 0.6, weights,
        )  # fmt: skip

    def _screen(self, contact: _Contact) -> None:
        rng = self._rng
        decision = rng.choices(DA_DECISIONS, weights=contact.decision_weights)[0]
        decided_at = self._decision_time(contact)
        for child in contact.children:
            correlation_id = self._out.new_id()
            contact_id = self._out.new_id()
            cause = self._emit_contact(contact, child, contact_id, correlation_id)
            own = "passed_to_open_case" if child.is_open_or_pending(contact.at) else decision
            referral_id = self._out.new_id() if own == "referral" else None
            at = decided_at + timedelta(minutes=rng.randint(0, 20))
            cause = self._out.emit(
                "screening.decision_recorded", at, agency="social_care", system="mosaic",
                ref=f"MASH-{contact_id.hex[:8]}", child_id=child.child_id,
                family_id=child.family_id, correlation_id=correlation_id, causation_id=cause,
                payload={"contact_id": contact_id, "decided_at": at, "decision": own,
                         "referral_id": referral_id, "reason": DECISION_REASONS[own],
                         "team": self._workforce.team_id("MASH"),
                         "worker": self._workforce.member(
                             self._workforce.team_id("MASH"), at, draw=rng.randint(1, 30))},
            )  # fmt: skip
            if referral_id is None:
                continue
            referral_at = at + timedelta(minutes=rng.randint(5, 40))
            referral = Referral(
                child, referral_id, contact_id, referral_at, contact.referral_source,
                contact.concern, contact.severity, correlation_id, cause,
            )  # fmt: skip
            team = self._workforce.assessment_team(area=rng.randrange(3))
            closed_at = self._episodes.run(referral, team)
            child.episodes.append((referral_at, closed_at))

    def _decision_time(self, contact: _Contact) -> datetime:
        """Red within hours (even out of hours); most within one working day; a few late."""
        rng = self._rng
        if contact.priority_red:
            return contact.at + timedelta(minutes=rng.randint(30, 200))
        roll = rng.random()
        days = 0 if roll < 0.55 else (1 if roll < 0.93 else rng.randint(2, 3))
        return self._episodes.working_moment(london_day(contact.at), days, contact.at)

    def _emit_contact(
        self, contact: _Contact, child: Child, contact_id: UUID, correlation_id: UUID
    ) -> UUID:
        common = {"contact_id": contact_id, "contact_at": contact.at, "child": child.details()}
        if contact.police is not None:
            siblings = [
                {"child_id": c.child_id, "date_of_birth": c.date_of_birth}
                for c in contact.children
                if c is not child and c.date_of_birth is not None
            ]
            payload = common | contact.police | {"household_children": siblings}
            event_type, ref = "police.da_notification", str(contact.police["police_ref"])
        else:
            payload = common | {
                "referral_source": contact.referral_source,
                "concern": contact.concern,
                "summary": SUMMARIES[contact.concern],
            }
            event_type, ref = "contact.received", f"{contact.system.upper()}-{contact_id.hex[:10]}"
        event_id = self._out.emit(
            event_type, contact.at, agency=contact.agency, system=contact.system, ref=ref,
            child_id=child.child_id, family_id=child.family_id, payload=payload,
            correlation_id=correlation_id, version=2 if event_type == "contact.received" else 1,
        )  # fmt: skip
        if contact.police is not None:
            self._encompass(contact, child, contact_id, correlation_id, event_id)
        return event_id

    def _encompass(
        self, contact: _Contact, child: Child, contact_id: UUID, correlation_id: UUID, cause: UUID
    ) -> None:
        """The school told of the incident, for a child of school age (Operation Encompass)."""
        assert contact.police is not None
        incident_at = contact.police["incident_at"]
        assert isinstance(incident_at, datetime)
        born = child.date_of_birth
        if born is None or london_day(incident_at) < ENCOMPASS_FROM:
            return
        age = _age(born, london_day(incident_at))
        if not ENCOMPASS_AGES[0] <= age <= ENCOMPASS_AGES[1]:
            return
        rng = self._rng
        deadline = self._next_school_day(incident_at)
        # the police desk tells the school, not the MASH: it may precede the notification, though
        # never the day the feed is writing (events of earlier days are already released)
        first = max(incident_at + timedelta(minutes=20), local_moment(london_day(contact.at), 0))
        last = min(incident_at + timedelta(hours=10), deadline - timedelta(minutes=10))
        if rng.random() < ENCOMPASS_LATE_SHARE or last <= first:
            notified = max(first, deadline) + timedelta(minutes=rng.randint(15, 6 * 60))
        else:
            span = int((last - first).total_seconds() // 60)
            notified = first + timedelta(minutes=rng.randint(0, span))
        self._out.emit(
            "education.encompass_notified", notified, agency="police", system="niche-rms",
            ref=str(contact.police["police_ref"]), child_id=child.child_id,
            family_id=child.family_id, correlation_id=correlation_id, causation_id=cause,
            payload={"contact_id": contact_id, "notified_at": notified,
                     "school_urn": f"{106_000 + rng.randint(0, 999):06d}",
                     "method": rng.choices(("secure_email", "telephone", "portal"),
                                           weights=(70, 10, 20))[0]},
        )  # fmt: skip

    def _next_school_day(self, moment: datetime) -> datetime:
        """08:30 on the next working day after ``moment`` (today's, if before 08:30)."""
        day = london_day(moment)
        if not (is_working_day(day, self._holidays) and london_minutes(moment) < SCHOOL_DAY_STARTS):
            day = working_day_on_or_after(day + timedelta(days=1), self._holidays)
        return local_moment(day, SCHOOL_DAY_STARTS)


RED_MARKERS = frozenset(MARKERS) - {"separation", "coercive_control", "violence"}
TOGETHER_RED = frozenset({"separation", "coercive_control", "violence"})


def _is_red(police: dict[str, object]) -> bool:
    """Whether screening will triage the notification red (rules/mash-2024.toml: high risk after
    judgement, a high-risk marker, the three markers together, a child injured), so the MASH
    works it within hours as a red one is."""
    markers = police["high_risk_markers"]
    assert isinstance(markers, list)
    return bool(
        police["dash_risk_level"] == "high"
        or police["officer_judgement_level"] == "high"
        or police["child_injured"]
        or RED_MARKERS & set(markers)
        or set(markers) >= TOGETHER_RED
    )


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
