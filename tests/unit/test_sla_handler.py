"""The SLA lifecycle handler through the real pipeline with in-memory ports: clocks, announcements,
idempotency, the batch's one transaction.

`PipelineHarness` runs the handler exactly as a worker would — decoding, the wanted types, the
claims, the outbox, the relay after the commit — with the in-memory ledger; the timer store is a
dict. `save` is the handler's last step, so the store applying it at once is the commit. Expected
due dates are written by hand. The event builders here are also used by the SLA integration tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import orjson
import pytest

from schemas.registry import parse_event
from schemas.topics import CASEWORK, CONTACTS, SLA
from services.common.calendar import LONDON, WorkingCalendar
from services.common.deadletter import Origin
from services.common.pipeline import Outcome
from services.common.publishing import OutRecord
from services.sla.bootstrap import group_for
from services.sla.domain.announcements import OutboxEntry
from services.sla.domain.batch import BatchWrite, ChildRecord
from services.sla.domain.clocks import EarlyEvent, TeamMark, wanted_event_types
from services.sla.domain.policies import Policy
from services.sla.domain.timers import Timer, TimerStatus, timer_id_for
from services.sla.handlers import TIMERS_CONSUMER, TimerHandler
from services.sla.policies import load_policy
from tests.factories import child_details, contact, envelope
from tests.harness import PipelineHarness

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


# -- event builders (shared with tests/integration/test_sla*.py) ----------------------------------


def decision(
    of_contact: dict[str, Any],
    *,
    at: datetime,
    outcome: str = "no_further_action",
    team: str = "MASH",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "contact_id": of_contact["payload"]["contact_id"],
        "decided_at": at.isoformat(),
        "decision": outcome,
        "reason": "Screened; no role for children's social care.",
        "team": team,
    }
    if outcome == "referral":
        payload["referral_id"] = str(uuid.uuid4())
    return envelope(
        "screening.decision_recorded", 1, payload, child=of_contact["subject"]["child_id"], at=at
    )


def triaged(
    of_contact: dict[str, Any], *, priority: str = "amber", team: str = "MASH"
) -> dict[str, Any]:
    """Screening's triage of a contact, at the contact's own time (as screening publishes it)."""
    at = datetime.fromisoformat(of_contact["payload"]["contact_at"])
    return envelope(
        "screening.triaged",
        1,
        {
            "contact_id": of_contact["payload"]["contact_id"],
            "triaged_at": at.isoformat(),
            "priority": priority,
            "reasons": [{"rule": f"priority.{priority}", "text": "Concern about neglect."}],
            "screening_due_at": at.isoformat(),
            "route": {"kind": "mash_queue", "team": team},
        },
        child=of_contact["subject"]["child_id"],
        at=at,
    )


def referral(
    child: str, *, at: datetime, referral_id: str | None = None, team: str = "Assessment Team 2"
) -> dict[str, Any]:
    return envelope(
        "referral.accepted",
        1,
        {
            "referral_id": referral_id or str(uuid.uuid4()),
            "referral_at": at.isoformat(),
            "referral_source": "6",
            "primary_need": "N1",
            "team": team,
            "child": child_details(),
        },
        child=child,
        at=at,
    )


def case_closed(child: str, referral_id: str, *, at: datetime) -> dict[str, Any]:
    return envelope(
        "case.closed",
        1,
        {"referral_id": referral_id, "closed_at": at.isoformat(), "reason": "RC8"},
        child=child,
        at=at,
    )


def strategy_discussion(child: str, referral_id: str, *, at: datetime) -> dict[str, Any]:
    return envelope(
        "strategy_discussion.held",
        1,
        {
            "strategy_id": str(uuid.uuid4()),
            "referral_id": referral_id,
            "held_at": at.isoformat(),
            "agencies": ["police", "social_care"],
            "outcome": "section_47",
        },
        child=child,
        at=at,
    )


def icpc_held(
    child: str, referral_id: str, *, at: datetime, plan_id: str | None = None
) -> dict[str, Any]:
    return envelope(
        "conference.icpc_held",
        1,
        {
            "conference_id": str(uuid.uuid4()),
            "s47_id": str(uuid.uuid4()),
            "referral_id": referral_id,
            "conference_at": at.isoformat(),
            "invited_agencies": ["police", "health", "education"],
            "plan": plan_id is not None,
            "plan_id": plan_id,
            "category": "NEG" if plan_id else None,
        },
        child=child,
        at=at,
    )


def origin(event: dict[str, Any], topic: str, offset: int = 0) -> Origin:
    return Origin(
        topic=topic,
        partition=0,
        offset=offset,
        key=event["subject"]["child_id"].encode(),
        value=orjson.dumps(event),
        headers=(("event_type", event["event_type"].encode()),),
    )


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


def london(y: int, m: int, d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=LONDON)


# -- the in-memory store -------------------------------------------------------------------------


@dataclass
class MemoryTimerStore:
    timers: dict[UUID, Timer] = field(default_factory=dict)
    timer_team: dict[UUID, str | None] = field(default_factory=dict)
    closed_by: dict[UUID, UUID] = field(default_factory=dict)
    team_history: dict[str, dict[UUID, TeamMark]] = field(default_factory=dict)
    teams: dict[str, tuple[str, datetime, UUID]] = field(default_factory=dict)
    early: dict[str, list[EarlyEvent]] = field(default_factory=dict)
    early_recorded: list[datetime] = field(default_factory=list)
    scheduled: dict[UUID, OutboxEntry] = field(default_factory=dict)
    loaded: list[list[str]] = field(default_factory=list)
    fail_next_save: BaseException | None = None
    saves: int = 0

    def __call__(self, _connection: Any) -> MemoryTimerStore:
        return self

    async def load(self, child_ids: Sequence[str]) -> Mapping[str, ChildRecord]:
        self.loaded.append(list(child_ids))
        return {
            c: ChildRecord(
                timers=tuple(t for t in self.timers.values() if t.child_id == c),
                timer_teams={i: self.timer_team.get(i) for i, t in self.timers.items()},
                closed_by=dict(self.closed_by),
                teams=tuple(self.team_history.get(c, {}).values()),
                team_event_id=self.teams[c][2] if c in self.teams else None,
                early=tuple(self.early.get(c, ())),
            )
            for c in child_ids
        }

    async def save(self, write: BatchWrite) -> None:
        if self.fail_next_save is not None:
            exc, self.fail_next_save = self.fail_next_save, None
            raise exc
        assert write.recorded_at == NOW
        for w in write.timers:
            if w.new and w.timer.timer_id in self.timers:
                continue  # insert-if-absent
            self.timer_team[w.timer.timer_id] = w.team
            if w.closed_event_id is not None:
                self.closed_by[w.timer.timer_id] = w.closed_event_id
            self.timers[w.timer.timer_id] = w.timer
        for child, mark in write.team_marks:
            self.team_history.setdefault(child, {}).setdefault(mark.event_id, mark)
        for t in write.teams:
            self.teams[t.child_id] = (t.team, t.as_of, t.event_id)
        for child, e in write.early:
            self.early.setdefault(child, []).append(e)
            self.early_recorded.append(write.recorded_at)
        for entry in write.scheduled:
            self.scheduled.setdefault(entry.event_id, entry)
        self.saves += 1

    def only(self, kind: str) -> Timer:
        found = [t for t in self.timers.values() if t.kind == kind]
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2030)


@pytest.fixture(scope="module")
def wt2013() -> Policy:
    return load_policy("wt2013")


GROUP = group_for(CASEWORK, "frontdoor-sla")


@dataclass
class Rig:
    store: MemoryTimerStore
    harness: PipelineHarness

    async def feed(self, *events: tuple[dict[str, Any], str]) -> Outcome:
        return await self.harness.feed(
            [origin(e, topic, offset=i) for i, (e, topic) in enumerate(events)]
        )

    @property
    def sent(self) -> list[OutRecord]:
        return self.harness.sent

    def published(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [
            orjson.loads(r.value)
            for r in self.harness.sent_to(SLA.name)
            if r.value is not None
            and (event_type is None or orjson.loads(r.value)["event_type"] == event_type)
        ]

    @property
    def processed(self) -> set[tuple[str, UUID]]:
        return set(self.harness.ledger.processed)


def make_rig(policy: Policy, cal: WorkingCalendar) -> Rig:
    store = MemoryTimerStore()
    handler = TimerHandler(store, policy, cal, clock=lambda: NOW)
    harness = PipelineHarness(
        handler,
        consumer=TIMERS_CONSUMER,
        topic=CASEWORK.name,
        group=GROUP,
        event_types=wanted_event_types(policy),
    )
    return Rig(store, harness)


@pytest.fixture
def rig(wt2013: Policy, cal: WorkingCalendar) -> Rig:
    return make_rig(wt2013, cal)


# -- starting, meeting, announcing -----------------------------------------------------------------


async def test_contact_starts_a_screening_clock_due_at_the_end_of_the_next_working_day(
    rig: Rig,
) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))  # Tuesday
    outcome = await rig.feed((c, CONTACTS.name))

    timer = rig.store.only("screening_decision")
    assert timer.status is TimerStatus.OPEN
    assert timer.due_at == london(2025, 3, 5, 23, 59, 59)  # Wednesday, GMT
    assert timer.started_at == utc(2025, 3, 4, 10, 30)
    assert timer.timer_id == timer_id_for(
        c["subject"]["child_id"], "screening_decision", c["payload"]["contact_id"]
    )
    assert outcome.handled == 1
    assert ("sla.timers", UUID(c["event_id"])) in rig.processed


async def test_started_clock_is_announced_with_a_deterministic_id_keyed_by_child(
    rig: Rig,
) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))

    (record,) = rig.harness.sent_to(SLA.name)
    timer = rig.store.only("screening_decision")
    event = parse_event(orjson.loads(record.value or b""))
    assert event.event_type == "sla.started"
    assert event.event_id == uuid5(timer.timer_id, "started")
    assert record.key == c["subject"]["child_id"].encode()
    assert ("event_type", b"sla.started") in record.headers
    assert event.causation_id == UUID(c["event_id"])
    payload = event.payload.model_dump()
    assert payload["due_at"] == timer.due_at
    assert payload["kind"] == "screening_decision"
    assert payload["policy"] == "wt2013"
    assert payload["anchor_id"] == UUID(c["payload"]["contact_id"])


async def test_announcements_go_through_the_outbox_under_their_own_event_ids(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))

    (stored,) = [s.row for s in rig.harness.ledger.outbox if s.row.topic == SLA.name]
    timer = rig.store.only("screening_decision")
    assert stored.event_id == uuid5(timer.timer_id, "started")
    assert stored.event_type == "sla.started"
    assert all(s.relayed_at is not None for s in rig.harness.ledger.outbox)


async def test_decision_meets_the_screening_clock_and_announces_met_on_time(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))
    await rig.feed((decision(c, at=utc(2025, 3, 5, 15, 0)), CASEWORK.name))

    timer = rig.store.only("screening_decision")
    assert timer.status is TimerStatus.MET
    assert timer.met_at == utc(2025, 3, 5, 15, 0)
    assert timer.breached_at is None
    (met,) = rig.published("sla.met")
    assert met["event_id"] == str(uuid5(timer.timer_id, "met"))
    assert met["payload"]["late"] is False
    assert not rig.store.scheduled


async def test_start_and_decision_in_one_batch_leave_the_clock_met(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name), (decision(c, at=utc(2025, 3, 4, 16, 0)), CASEWORK.name))

    assert rig.store.only("screening_decision").status is TimerStatus.MET
    assert [e["event_type"] for e in rig.published()] == ["sla.started", "sla.met"]
    assert rig.store.saves == 1


async def test_one_batch_locks_each_of_its_children_once_in_order(rig: Rig) -> None:
    a, b = contact("C-b", at=utc(2025, 3, 4, 10, 30)), contact("C-a", at=utc(2025, 3, 4, 11, 0))
    await rig.feed(
        (a, CONTACTS.name), (b, CONTACTS.name), (decision(a, at=utc(2025, 3, 4, 16)), CASEWORK.name)
    )

    assert rig.store.loaded == [["C-a", "C-b"]]


async def test_referral_starts_the_45_working_day_assessment_clock_over_easter(rig: Rig) -> None:
    child = "C-easter-2025"
    await rig.feed((referral(child, at=utc(2025, 3, 5, 11, 0)), CASEWORK.name))

    # day 0 Wed 5 Mar; Good Friday 18 Apr, Easter Monday 21 Apr and 5 May are not working days
    assert rig.store.only("assessment").due_at == london(2025, 5, 12, 23, 59, 59)


async def test_referral_team_is_carried_by_the_childs_clocks_and_announcements(
    rig: Rig,
) -> None:
    child = "C-team"
    await rig.feed(
        (referral(child, at=utc(2025, 3, 5, 11, 0), team="Locality North"), CASEWORK.name)
    )

    timer = rig.store.only("assessment")
    assert rig.store.timer_team[timer.timer_id] == "Locality North"
    assert rig.store.teams[child][0] == "Locality North"
    (started,) = rig.published("sla.started")
    assert started["payload"]["team"] == "Locality North"


# -- idempotency and failures ----------------------------------------------------------------------


async def test_redelivered_event_changes_nothing_and_announces_nothing(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))
    before = dict(rig.store.timers)
    sent = len(rig.sent)

    outcome = await rig.feed((c, CONTACTS.name))

    assert (outcome.repeats, outcome.handled) == (1, 0)
    assert rig.store.timers == before
    assert len(rig.sent) == sent


async def test_a_batch_whose_transaction_fails_announces_nothing_until_it_commits(
    rig: Rig,
) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    rig.store.fail_next_save = ConnectionResetError("the database went away before the commit")

    outcome = await rig.feed((c, CONTACTS.name))  # retried whole: the database came back

    assert outcome.handled == 1
    assert len(rig.store.timers) == 1
    (started,) = rig.published()  # nothing was sent for the attempt that did not commit
    assert started["event_type"] == "sla.started"


async def test_a_new_event_for_a_clock_already_met_does_not_restart_it(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name), (decision(c, at=utc(2025, 3, 4, 16, 0)), CASEWORK.name))
    corrected = {**c, "event_id": str(uuid.uuid4())}  # the same contact sent again, new event id

    await rig.feed((corrected, CONTACTS.name))

    assert rig.store.only("screening_decision").status is TimerStatus.MET
    assert len(rig.published("sla.started")) == 1


def test_builders_make_valid_events() -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    child = c["subject"]["child_id"]
    rid = str(uuid.uuid4())
    for event in (
        decision(c, at=utc(2025, 3, 5)),
        decision(c, at=utc(2025, 3, 5), outcome="referral"),
        triaged(c),
        referral(child, at=utc(2025, 3, 5)),
        case_closed(child, rid, at=utc(2025, 3, 6)),
        strategy_discussion(child, rid, at=utc(2025, 3, 6)),
        icpc_held(child, rid, at=utc(2025, 3, 20), plan_id=str(uuid.uuid4())),
    ):
        assert parse_event(event).event_type == event["event_type"]
