"""The SLA lifecycle handler over an in-memory unit of work: clocks, announcements, idempotency.

The fake store keeps the adapter's contract: a unit sees only committed state, `save` is staged and
applied only when the unit ends without an exception (the commit). Expected due dates are written
by hand. The event builders here are also used by the SLA integration tests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
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
from services.common.publishing import RecordingPublisher
from services.sla.announcements import OutboxEntry, check_policy_kinds
from services.sla.clocks import EarlyEvent
from services.sla.config import SlaSettings
from services.sla.domain.policies import Policy, PolicyError, parse_policy
from services.sla.domain.timers import Timer, TimerStatus, timer_id_for
from services.sla.handlers import BatchWrite, ChildRecord, TimerHandler
from services.sla.policies import load_policy, shipped_policy_names
from tests.factories import child_details, contact, envelope

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


# -- the fake unit of work -------------------------------------------------------------------------


@dataclass
class FakeTimerStore:
    timers: dict[UUID, Timer] = field(default_factory=dict)
    started_team: dict[UUID, str | None] = field(default_factory=dict)
    teams: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    early: dict[str, list[EarlyEvent]] = field(default_factory=dict)
    processed: set[tuple[str, UUID]] = field(default_factory=set)
    outbox: dict[UUID, OutboxEntry] = field(default_factory=dict)
    fail_next_commit: bool = False
    commits: int = 0

    @asynccontextmanager
    async def unit(
        self, consumer: str, child_ids: Sequence[str], event_ids: Sequence[UUID]
    ) -> AsyncIterator[FakeUnit]:
        children = {
            c: ChildRecord(
                timers=tuple(t for t in self.timers.values() if t.child_id == c),
                team=self.teams.get(c, (None, None))[0],
                team_as_of=self.teams.get(c, (None, None))[1],
                early=tuple(self.early.get(c, ())),
            )
            for c in child_ids
        }
        done = frozenset(e for e in event_ids if (consumer, e) in self.processed)
        unit = FakeUnit(done, children)
        yield unit
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise ConnectionError("the database went away before the commit")
        for write in unit.staged:
            self._commit(consumer, write)
        self.commits += 1

    def _commit(self, consumer: str, write: BatchWrite) -> None:
        for w in write.timers:
            assert write.recorded_at == NOW
            if w.new and w.timer.timer_id in self.timers:
                continue  # insert-if-absent
            if w.new:
                self.started_team[w.timer.timer_id] = w.team
            self.timers[w.timer.timer_id] = w.timer
        for t in write.teams:
            self.teams[t.child_id] = (t.team, t.as_of)
        for child, e in write.early:
            self.early.setdefault(child, []).append(e)
        self.processed.update((consumer, e) for e in write.processed)
        for entry in write.outbox:
            self.outbox.setdefault(entry.event_id, entry)

    def only(self, kind: str) -> Timer:
        found = [t for t in self.timers.values() if t.kind == kind]
        assert len(found) == 1, found
        return found[0]


@dataclass
class FakeUnit:
    processed: frozenset[UUID]
    children: Mapping[str, ChildRecord]
    staged: list[BatchWrite] = field(default_factory=list)

    async def save(self, write: BatchWrite) -> None:
        self.staged.append(write)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.england_and_wales(2020, 2030)


@pytest.fixture(scope="module")
def wt2013() -> Policy:
    return load_policy("wt2013")


@dataclass
class Rig:
    store: FakeTimerStore
    publisher: RecordingPublisher
    handler: TimerHandler

    async def feed(self, *events: tuple[dict[str, Any], str]) -> Any:
        return await self.handler.handle_batch(
            [origin(e, topic, offset=i) for i, (e, topic) in enumerate(events)]
        )

    def published(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [
            orjson.loads(r.value)
            for r in self.publisher.records
            if r.topic == SLA.name
            and r.value is not None
            and (event_type is None or orjson.loads(r.value)["event_type"] == event_type)
        ]


def make_rig(policy: Policy, cal: WorkingCalendar) -> Rig:
    store, publisher = FakeTimerStore(), RecordingPublisher()
    handler = TimerHandler(
        store=store,
        publisher=publisher,
        policy=policy,
        calendar=cal,
        consumer_group="frontdoor-sla",
        clock=lambda: NOW,
    )
    return Rig(store, publisher, handler)


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
    assert outcome.applied == 1
    assert ("sla.timers", UUID(c["event_id"])) in rig.store.processed


async def test_started_clock_is_announced_with_a_deterministic_id_keyed_by_child(
    rig: Rig,
) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))

    (record,) = [r for r in rig.publisher.records if r.topic == SLA.name]
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
    assert not rig.store.outbox


async def test_start_and_decision_in_one_batch_leave_the_clock_met(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name), (decision(c, at=utc(2025, 3, 4, 16, 0)), CASEWORK.name))

    assert rig.store.only("screening_decision").status is TimerStatus.MET
    assert [e["event_type"] for e in rig.published()] == ["sla.started", "sla.met"]
    assert rig.store.commits == 1


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
    assert rig.store.started_team[timer.timer_id] == "Locality North"
    assert rig.store.teams[child][0] == "Locality North"
    (started,) = rig.published("sla.started")
    assert started["payload"]["team"] == "Locality North"


# -- idempotency and crashes -----------------------------------------------------------------------


async def test_redelivered_event_changes_nothing_and_announces_nothing(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    await rig.feed((c, CONTACTS.name))
    before = dict(rig.store.timers)
    published = len(rig.publisher.records)

    outcome = await rig.feed((c, CONTACTS.name))

    assert outcome.duplicates == 1
    assert outcome.applied == 0
    assert rig.store.timers == before
    assert len(rig.publisher.records) == published


async def test_crash_between_publish_and_commit_republishes_the_same_ids(rig: Rig) -> None:
    c = contact(at=utc(2025, 3, 4, 10, 30))
    rig.store.fail_next_commit = True
    with pytest.raises(ConnectionError):
        await rig.feed((c, CONTACTS.name))
    assert not rig.store.timers  # nothing committed, but the announcement was published
    first = [e["event_id"] for e in rig.published()]

    await rig.feed((c, CONTACTS.name))  # the uncommitted record is delivered again

    assert len(rig.store.timers) == 1
    assert [e["event_id"] for e in rig.published()] == first * 2
    assert len(set(first)) == 1


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
        referral(child, at=utc(2025, 3, 5)),
        case_closed(child, rid, at=utc(2025, 3, 6)),
        strategy_discussion(child, rid, at=utc(2025, 3, 6)),
        icpc_held(child, rid, at=utc(2025, 3, 20), plan_id=str(uuid.uuid4())),
    ):
        assert parse_event(event).event_type == event["event_type"]


# -- wiring that fails fast ------------------------------------------------------------------------


@pytest.mark.parametrize("name", shipped_policy_names())
def test_every_shipped_policy_names_only_clocks_the_sla_events_can_carry(name: str) -> None:
    check_policy_kinds(load_policy(name))


def test_a_policy_with_a_clock_the_contract_cannot_name_is_refused_at_start_up() -> None:
    policy = parse_policy(
        {
            "name": "council",
            "version": 1,
            "timers": {
                "lunch_break": {
                    "deadline": {"hours": 1},
                    "start": [{"event": "contact.received", "subject": "payload.contact_id"}],
                }
            },
        }
    )
    with pytest.raises(PolicyError, match="lunch_break"):
        check_policy_kinds(policy)


def test_policy_and_overrides_come_from_the_frontdoor_policy_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRONTDOOR_POLICY", "wt2010")
    monkeypatch.setenv("FRONTDOOR_POLICY_OVERRIDES", "/etc/frontdoor/council.toml")
    monkeypatch.setenv("FRONTDOOR_SLA_SCAN_MAX_SLEEP_SECONDS", "0.5")

    settings = SlaSettings()

    assert settings.policy == "wt2010"
    assert str(settings.policy_overrides) == "/etc/frontdoor/council.toml"
    assert settings.scan_max_sleep_seconds == 0.5
