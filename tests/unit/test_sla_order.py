"""A child's clocks are a function of its history, not of the order the SLA worker read it in.

SLA reads four topics in four consumer groups, so one child's events reach it in any interleaving
(and a replay after a crash interleaves them differently again). These tests run one history in
every order — one event per batch, and all of it in one batch, the stored state folded between
batches exactly as the store writes it — and demand the identical view: every timer's status,
moments, policy, team and closing event, and the child's current team. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import permutations
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.common.calendar import LONDON, WorkingCalendar
from services.common.publishing import OutRecord
from services.sla.domain.announcements import Cause
from services.sla.domain.batch import ChildRecord, announcements_of, batch_write, clocks_of
from services.sla.domain.clocks import EarlyEvent, TeamMark
from services.sla.domain.policies import Policy
from services.sla.domain.timers import Timer
from services.sla.policies import load_policy

CHILD = "C-order"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2030)


@pytest.fixture(scope="module")
def wt2013() -> Policy:
    return load_policy("wt2013")


def t(d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A moment in March 2025, London time."""
    return datetime(2025, 3, d, hh, mm, tzinfo=LONDON)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def event(
    event_type: str, at: datetime, *, event_id: UUID | None = None, **payload: Any
) -> dict[str, Any]:
    """An envelope as the handler hands it to the domain (``model_dump(mode="json")``)."""
    return _json(
        {
            "event_id": event_id or uuid4(),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": at,
            "source": {"agency": "social_care", "system": "test", "ref": "r"},
            "subject": {"child_id": CHILD},
            "correlation_id": None,
            "payload": payload,
        }
    )


def decided(contact_id: UUID, at: datetime) -> dict[str, Any]:
    """A screening decision on the contact at `at` (no further action, by MASH)."""
    return event(
        "screening.decision_recorded",
        at,
        contact_id=contact_id,
        decided_at=at,
        decision="no_further_action",
        team="MASH",
    )


def ids(*numbers: int) -> list[UUID]:
    return [UUID(int=n) for n in numbers]


# -- the store, folded as the PostgreSQL adapter writes it ---------------------------------------


@dataclass
class Stored:
    """One child's rows: what `PostgresTimerStore.load` would read back after each batch."""

    timers: dict[UUID, Timer] = field(default_factory=dict)
    timer_teams: dict[UUID, str | None] = field(default_factory=dict)
    started_by: dict[UUID, UUID | None] = field(default_factory=dict)
    closed_by: dict[UUID, UUID] = field(default_factory=dict)
    teams: dict[UUID, TeamMark] = field(default_factory=dict)
    current: tuple[str, datetime, UUID] | None = None
    early: dict[UUID, EarlyEvent] = field(default_factory=dict)
    announced: dict[UUID, bytes | None] = field(default_factory=dict)

    def record(self) -> ChildRecord:
        return ChildRecord(
            timers=tuple(self.timers.values()),
            timer_teams=dict(self.timer_teams),
            closed_by=dict(self.closed_by),
            teams=tuple(self.teams.values()),
            team_event_id=None if self.current is None else self.current[2],
            early=tuple(self.early.values()),
        )

    def batch(self, policy: Policy, cal: WorkingCalendar, bodies: Sequence[dict[str, Any]]) -> None:
        clocks = clocks_of(CHILD, self.record(), policy, cal)
        for body in bodies:
            clocks.apply(body, Cause(UUID(body["event_id"]), None))
        records, scheduled = announcements_of([clocks])
        write = batch_write(NOW, [clocks], scheduled)
        for w in write.timers:
            timer_id = w.timer.timer_id
            if w.new and timer_id in self.timers:
                continue  # insert-if-absent
            if w.new:
                self.started_by[timer_id] = w.started_event_id
            self.timers[timer_id] = w.timer
            self.timer_teams[timer_id] = w.team
            if w.closed_event_id is not None:  # COALESCE(EXCLUDED, stored)
                self.closed_by[timer_id] = w.closed_event_id
        for child, mark in write.team_marks:
            assert child == CHILD
            self.teams.setdefault(mark.event_id, mark)
        for team in write.teams:
            self.current = (team.team, team.as_of, team.event_id)
        for _, early in write.early:
            self.early.setdefault(early.event_id, early)
        self._announce(records)

    def _announce(self, records: Iterable[OutRecord]) -> None:
        for r in records:
            assert r.event_id is not None
            # one id, one content: a consumer would dead-letter the same id with other content
            assert self.announced.setdefault(r.event_id, r.value) == r.value, r.event_type

    def view(self) -> dict[str, Any]:
        """What the fault test compares: every column that is not processing time."""
        timers = {
            (t.kind, t.subject_ref): (
                t.policy,
                t.status.value,
                t.started_at.astimezone(UTC),
                t.due_at.astimezone(UTC),
                None if t.warn_at is None else t.warn_at.astimezone(UTC),
                None if t.met_at is None else t.met_at.astimezone(UTC),
                None if t.cancelled_at is None else t.cancelled_at.astimezone(UTC),
                self.timer_teams.get(t.timer_id),
                self.started_by.get(t.timer_id),
                self.closed_by.get(t.timer_id),
            )
            for t in self.timers.values()
        }
        current = None
        if self.current is not None:
            current = (self.current[0], self.current[1].astimezone(UTC), self.current[2])
        return {"timers": timers, "team": current}


def run(
    policy: Policy, cal: WorkingCalendar, history: Sequence[dict[str, Any]], *, one_batch: bool
) -> Stored:
    stored = Stored()
    if one_batch:
        stored.batch(policy, cal, history)
    else:
        for body in history:
            stored.batch(policy, cal, [body])
    return stored


def views_in_every_order(
    policy: Policy, cal: WorkingCalendar, history: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        run(policy, cal, order, one_batch=one_batch).view()
        for order in permutations(history)
        for one_batch in (False, True)
    ]


def the_one_view(
    policy: Policy, cal: WorkingCalendar, history: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    views = views_in_every_order(policy, cal, history)
    first = views[0]
    for view in views[1:]:
        assert view == first
    return first


def team_of(view: dict[str, Any], kind: str) -> str | None:
    (found,) = [v[7] for (k, _), v in view["timers"].items() if k == kind]
    return found


def status_of(view: dict[str, Any], kind: str) -> tuple[str, datetime | None, UUID | None]:
    (found,) = [(v[1], v[5] or v[6], v[9]) for (k, _), v in view["timers"].items() if k == kind]
    return found


# -- the front door: contact, triage, decision, referral, assessment ------------------------------


def front_door(contact_at: datetime) -> list[dict[str, Any]]:
    contact_id, referral_id = uuid4(), uuid4()
    return [
        event("contact.received", contact_at, contact_id=contact_id, contact_at=contact_at),
        event(  # screening's triage carries the contact's own time (occurred_at = triaged_at)
            "screening.triaged",
            contact_at,
            contact_id=contact_id,
            triaged_at=contact_at,
            priority="amber",
            route={"kind": "mash_queue", "team": "MASH"},
        ),
        event(
            "screening.decision_recorded",
            t(5, 14),
            contact_id=contact_id,
            decided_at=t(5, 14),
            decision="referral",
            referral_id=referral_id,
            team="MASH",
        ),
        event(
            "referral.accepted",
            t(5, 15),
            referral_id=referral_id,
            referral_at=t(5, 15),
            team="Assessment Team 2",
        ),
        event(
            "assessment.started",
            t(7, 9),
            referral_id=referral_id,
            started_at=t(7, 9),
            team="Locality North",
        ),
    ]


def test_timer_team_is_the_team_as_of_its_start_whatever_the_processing_order(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    history = front_door(t(4, 10, 30))

    view = the_one_view(wt2013, cal, history)

    # the triage at the contact's instant names MASH for both clocks starting at contact receipt
    assert team_of(view, "screening_decision") == "MASH"
    assert team_of(view, "triage") == "MASH"
    # the referral names its team at its own start; the later assessment.started does not reach back
    assert team_of(view, "assessment") == "Assessment Team 2"
    assert view["team"] == ("Locality North", t(7, 9).astimezone(UTC), UUID(history[4]["event_id"]))


def test_a_timer_started_before_any_team_event_has_no_team_even_if_one_was_read_first(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    contact_id = uuid4()
    history = [
        event("contact.received", t(4, 10), contact_id=contact_id, contact_at=t(4, 10)),
        event("referral.accepted", t(4, 11), referral_id=uuid4(), referral_at=t(4, 11), team="A2"),
    ]

    view = the_one_view(wt2013, cal, history)

    assert team_of(view, "screening_decision") is None
    assert team_of(view, "assessment") == "A2"
    assert view["team"] is not None
    assert view["team"][0] == "A2"


@pytest.mark.parametrize(("first", "second", "winner"), [(1, 2, "Second"), (2, 1, "First")])
def test_team_events_at_the_same_instant_are_ordered_by_event_id_not_by_arrival(
    wt2013: Policy, cal: WorkingCalendar, first: int, second: int, winner: str
) -> None:
    contact_id = uuid4()
    a, b = ids(first, second)
    history = [
        event("contact.received", t(4, 10), contact_id=contact_id, contact_at=t(4, 10)),
        event(
            "screening.triaged",
            t(4, 10),
            event_id=a,
            contact_id=contact_id,
            triaged_at=t(4, 10),
            priority="blue",
            route={"kind": "mash_queue", "team": "First"},
        ),
        event("assessment.started", t(4, 10), event_id=b, referral_id=uuid4(), team="Second"),
    ]

    view = the_one_view(wt2013, cal, history)

    assert team_of(view, "screening_decision") == winner
    assert view["team"] is not None
    assert view["team"][0] == winner


def test_a_team_event_read_after_the_clock_rewrites_the_clocks_team(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    contact, triaged, *_ = front_door(t(4, 10, 30))
    stored = Stored()
    stored.batch(wt2013, cal, [contact])
    assert team_of(stored.view(), "screening_decision") is None

    stored.batch(wt2013, cal, [triaged])

    assert team_of(stored.view(), "screening_decision") == "MASH"
    assert team_of(stored.view(), "triage") == "MASH"


# -- closings: early, twice, of every clock of a kind ---------------------------------------------


def test_the_earliest_of_two_stops_meets_the_clock_whatever_arrives_first(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    contact_id = uuid4()
    decisions = [decided(contact_id, at) for at in (t(5, 9), t(4, 16))]
    history = [
        event("contact.received", t(4, 10), contact_id=contact_id, contact_at=t(4, 10)),
        *decisions,
    ]

    view = the_one_view(wt2013, cal, history)

    assert status_of(view, "screening_decision") == (
        "met",
        t(4, 16).astimezone(UTC),
        UUID(decisions[1]["event_id"]),
    )


@pytest.mark.parametrize(
    ("authorised_day", "expected"), [(20, "met"), (28, "cancelled")], ids=["stop", "cancel"]
)
def test_a_stop_and_a_cancel_close_the_clock_by_whichever_happened_first(
    wt2013: Policy, cal: WorkingCalendar, authorised_day: int, expected: str
) -> None:
    referral_id = uuid4()
    history = [
        event("referral.accepted", t(3), referral_id=referral_id, referral_at=t(3), team="A2"),
        event(
            "assessment.authorised",
            t(authorised_day),
            referral_id=referral_id,
            authorised_at=t(authorised_day),
        ),
        event("case.closed", t(24), referral_id=referral_id, closed_at=t(24)),
    ]

    view = the_one_view(wt2013, cal, history)

    assert status_of(view, "assessment")[0] == expected


def test_a_closing_event_for_every_clock_of_a_kind_also_closes_the_clocks_read_after_it(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    conference_id = uuid4()
    strategy = event(  # the ICPC clock the conference meets: the conference closes a clock of
        "strategy_discussion.held",  # every kind it names, and is still needed later
        t(3, 9),
        strategy_id=uuid4(),
        held_at=t(3, 9),
        outcome="section_47",
    )
    invitations = [
        event(  # on frontdoor.conferences, read in its own consumer group
            "conference.invitation_issued",
            t(3),
            conference_id=conference_id,
            agency=agency,
            conference_at=t(20),
        )
        for agency in ("police", "health")
    ]
    held = event(  # no subject on the cancel: every report clock started before it
        "conference.icpc_held", t(20), conference_id=conference_id, conference_at=t(20), plan=False
    )

    view = the_one_view(wt2013, cal, [strategy, invitations[0], held, invitations[1]])

    reports = [v[1] for (kind, _), v in view["timers"].items() if kind == "conference_reports"]
    assert reports == ["cancelled", "cancelled"]
    assert status_of(view, "icpc")[0] == "met"


def test_cadence_clocks_are_the_same_whatever_order_the_visits_are_read_in(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    plan_id = uuid4()
    visits = [
        event(
            "visit.recorded",
            at,
            visit_id=uuid4(),
            visit_at=at,
            kind="cp_statutory",
            plan_id=plan_id,
        )
        for at in (t(10), t(18))
    ]
    held = event(
        "conference.icpc_held",
        t(4),
        conference_id=uuid4(),
        conference_at=t(4),
        plan=True,
        plan_id=plan_id,
    )

    view = the_one_view(wt2013, cal, [held, *visits])

    visit_clocks = sorted(
        (v[2], v[1], v[5]) for (kind, _), v in view["timers"].items() if kind == "cp_visit"
    )
    assert visit_clocks == [
        (t(4).astimezone(UTC), "met", t(10).astimezone(UTC)),
        (t(10).astimezone(UTC), "met", t(18).astimezone(UTC)),
        (t(18).astimezone(UTC), "open", None),
    ]


def test_an_earlier_closing_read_late_corrects_the_clock_without_announcing_it_again(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    contact_id = uuid4()
    contact = event("contact.received", t(4, 10), contact_id=contact_id, contact_at=t(4, 10))
    late, early = (decided(contact_id, at) for at in (t(7, 9), t(5, 9)))
    stored = Stored()
    for body in (contact, late):
        stored.batch(wt2013, cal, [body])
    announced = dict(stored.announced)

    stored.batch(wt2013, cal, [early])

    assert status_of(stored.view(), "screening_decision") == (
        "met",
        t(5, 9).astimezone(UTC),
        UUID(early["event_id"]),
    )
    assert stored.announced == announced  # sla.met went out once; its id is not reused


def test_a_recorded_team_changes_only_when_a_team_event_of_the_child_arrives(
    wt2013: Policy, cal: WorkingCalendar
) -> None:
    referral_id = uuid4()
    stored = Stored()
    stored.batch(
        wt2013, cal, [event("referral.accepted", t(3), referral_id=referral_id, referral_at=t(3))]
    )
    (timer_id,) = stored.timers
    stored.timer_teams[timer_id] = "Recorded before team history was kept"

    stored.batch(wt2013, cal, [event("case.closed", t(6), referral_id=referral_id, closed_at=t(6))])

    assert status_of(stored.view(), "assessment")[0] == "cancelled"
    assert team_of(stored.view(), "assessment") == "Recorded before team history was kept"

    stored.batch(
        wt2013, cal, [event("assessment.started", t(4), referral_id=referral_id, team="A")]
    )

    assert team_of(stored.view(), "assessment") is None  # nothing named a team by its start
