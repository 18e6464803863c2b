"""The conferences handler through the real pipeline with an in-memory store: invitations, inboxes,
dead letters, the canonical log line.

`PipelineHarness` runs the handler exactly as a worker does — decoding, the wanted-type filter,
the ``processed_events`` claims, the error policy and the outbox — with the ledger and the sender
in memory. The fake store keeps the PostgreSQL adapter's contract: `load` returns the committed
records (a referral the service has not seen is found in the history, intake's ``events``, when an
event names it), and `save` is the handler's last write, so nothing of a batch that failed before
it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.registry import parse_event
from schemas.topics import CASEWORK, CONFERENCES, DEADLETTER, agency_inbox
from services.common.calendar import WorkingCalendar
from services.common.deadletter import Origin, header_map
from services.common.pipeline import Outcome
from services.common.publishing import OutRecord
from services.conferences.adapters.rules import load_rules
from services.conferences.bootstrap import CONSUMER
from services.conferences.domain.invitations import icpc_id, review_id
from services.conferences.domain.processing import HANDLED_EVENT_TYPES
from services.conferences.domain.state import ChildFile, ConferenceStatus, Referral
from services.conferences.handlers import ConferenceHandler
from services.conferences.ports import BatchWrite
from tests.factories import da_notification
from tests.harness import PipelineHarness
from tests.unit.test_conferences_lifecycle import (
    at,
    closed,
    core_group,
    icpc,
    new_id,
    plan_ended,
    rcpc,
    referral,
    report,
    s47,
    s47_completed,
    strategy,
)

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
CALENDAR = WorkingCalendar.england_and_wales(2020, 2030)
GROUP = "frontdoor-conferences"


@dataclass
class FakeStore:
    children: dict[str, ChildFile] = field(default_factory=dict)
    invitations: dict[UUID, Any] = field(default_factory=dict)
    history: dict[str, list[Referral]] = field(default_factory=dict)
    saves_to_fail: int = 0

    def __call__(self, _connection: object) -> FakeStore:
        return self

    async def load(
        self, child_ids: Sequence[str], referral_ids: Mapping[str, Sequence[UUID]]
    ) -> dict[str, ChildFile]:
        files = {c: self.children.get(c, ChildFile(child_id=c)) for c in child_ids}
        for child, wanted in referral_ids.items():
            for found in self.history.get(child, []):
                if found.referral_id in wanted and found.referral_id not in files[child].referrals:
                    files[child] = files[child].with_referral(found)
        return files

    async def save(self, write: BatchWrite) -> None:
        if self.saves_to_fail:
            self.saves_to_fail -= 1
            raise ConnectionError("database went away before the commit")
        for change in write.children:
            self.children[change.after.child_id] = change.after
        self.invitations |= {i.event_id: i for i in write.invitations}


def origin(event: dict[str, Any], offset: int = 0) -> Origin:
    return Origin(
        topic=CASEWORK.name,
        partition=0,
        offset=offset,
        key=event["subject"]["child_id"].encode(),
        value=orjson.dumps(event),
        headers=(("event_type", event["event_type"].encode()),),
    )


@dataclass
class Rig:
    store: FakeStore
    harness: PipelineHarness
    offset: int = 0

    async def feed(self, *events: dict[str, Any]) -> Outcome:
        return await self.feed_records(*(origin(e) for e in events))

    async def feed_records(self, *records: Origin) -> Outcome:
        numbered = [replace(r, offset=self.offset + n) for n, r in enumerate(records)]
        self.offset += len(numbered)
        return await self.harness.feed(numbered)

    @property
    def sent(self) -> list[OutRecord]:
        return self.harness.sent

    def clear(self) -> None:
        self.harness.sender.rows.clear()

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.value or b"") for r in self.sent if r.topic == topic]

    def dead(self) -> list[OutRecord]:
        return self.harness.sent_to(DEADLETTER.name)

    def processed(self, event: dict[str, Any]) -> bool:
        return (CONSUMER, UUID(event["event_id"])) in self.harness.ledger.processed


def make_rig(policy: str = "wt2013") -> Rig:
    store = FakeStore()
    handler = ConferenceHandler(store, load_rules(policy), CALENDAR)
    harness = PipelineHarness(
        handler,
        consumer=CONSUMER,
        topic=CASEWORK.name,
        group=GROUP,
        event_types=HANDLED_EVENT_TYPES,
        clock=lambda: NOW,
    )
    return Rig(store, harness)


@pytest.fixture
def rig() -> Rig:
    return make_rig()


def booked(child: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A referral, the strategy discussion that starts an s47 on it, and the s47."""
    ref = referral(child, at(2025, 4, 10, 11))
    sd = strategy(child, ref["payload"]["referral_id"], at(2025, 4, 14, 14))
    return ref, sd, s47(child, sd, at(2025, 4, 14, 15))


# -- invitations ----------------------------------------------------------------------------------


async def test_strategy_discussion_invites_each_agency_on_its_own_inbox_and_copies_to_conferences(
    rig: Rig,
) -> None:
    ref, sd, en = booked("C-inv")
    outcome = await rig.feed(ref, sd, en)
    assert (outcome.handled, outcome.dead_lettered) == (3, 0)
    conference = str(icpc_id("C-inv", UUID(sd["payload"]["strategy_id"])))
    for agency in ("police", "health", "education", "social_care"):
        inbox = rig.on(agency_inbox(agency).name)
        assert len(inbox) == 1
        assert inbox[0]["payload"]["agency"] == agency
        assert inbox[0]["payload"]["conference_id"] == conference
        assert inbox[0]["causation_id"] == sd["event_id"]
    assert rig.on(agency_inbox("probation").name) == []
    copies = rig.on(CONFERENCES.name)
    assert sorted(c["payload"]["agency"] for c in copies) == [
        "education",
        "health",
        "police",
        "social_care",
    ]
    assert len(rig.sent) == 8  # four invitations, each on an inbox and on frontdoor.conferences
    for record in rig.sent:
        assert record.key == b"C-inv"
        assert header_map(record.headers)["event_type"] == "conference.invitation_issued"
    assert set(rig.store.invitations) == {UUID(c["event_id"]) for c in copies}


async def test_invitations_go_through_the_outbox_with_their_event_ids(rig: Rig) -> None:
    ref, sd, en = booked("C-outbox")
    await rig.feed(ref, sd, en)
    rows = [s.row for s in rig.harness.ledger.outbox]
    inboxes = {agency_inbox(a).name for a in ("police", "health", "education", "social_care")}
    assert {r.topic for r in rows} == {CONFERENCES.name, *inboxes}
    for row in rows:
        assert row.event_type == "conference.invitation_issued"
        assert str(row.event_id) == orjson.loads(row.value or b"")["event_id"]
    assert all(s.relayed_at is not None for s in rig.harness.ledger.outbox)


async def test_an_invitation_carries_only_what_its_agency_needs(rig: Rig) -> None:
    ref, sd, en = booked("C-min")
    await rig.feed(ref, sd, en)
    (police,) = rig.on(agency_inbox("police").name)
    parse_event(police)  # a valid contract event
    assert set(police["payload"]) == {
        "invitation_id",
        "conference_id",
        "kind",
        "agency",
        "conference_at",
        "icpc_target_date",
        "review_target_date",
        "reports_due_by",
    }
    text = orjson.dumps(police).decode()
    assert "health" not in text
    assert "education" not in text
    assert police["subject"] == {"child_id": "C-min", "family_id": None}
    assert police["payload"]["icpc_target_date"] == "2025-05-08"


async def test_an_agency_inbox_holds_nothing_of_another_agencys_conference(rig: Rig) -> None:
    ref, sd, en = booked("C-a")
    other_ref = referral("C-b", at(2025, 4, 10, 11))
    only_probation = strategy(
        "C-b",
        other_ref["payload"]["referral_id"],
        at(2025, 4, 15),
        agencies=("probation", "social_care"),
    )
    await rig.feed(ref, sd, en, other_ref, only_probation)
    probation = rig.on(agency_inbox("probation").name)
    assert {e["subject"]["child_id"] for e in probation} == {"C-b"}
    education = rig.on(agency_inbox("education").name)
    assert {e["subject"]["child_id"] for e in education} == {"C-a"}


async def test_redelivered_batch_changes_nothing_and_publishes_nothing(rig: Rig) -> None:
    ref, sd, en = booked("C-dup")
    await rig.feed(ref, sd, en)
    before = dict(rig.store.children)
    rig.clear()
    outcome = await rig.feed(ref, sd, en)
    assert (outcome.handled, outcome.repeats) == (0, 3)
    assert rig.sent == []
    assert rig.store.children == before


async def test_database_away_at_the_save_retries_the_batch_and_emits_each_invitation_once(
    rig: Rig,
) -> None:
    ref, sd, en = booked("C-crash")
    rig.store.saves_to_fail = 2
    outcome = await rig.feed(ref, sd, en)
    assert (outcome.handled, outcome.dead_lettered) == (3, 0)
    assert rig.dead() == []
    assert len(rig.sent) == 8
    assert len({(r.topic, r.value) for r in rig.sent}) == 8
    assert "C-crash" in rig.store.children


async def test_a_replayed_history_issues_the_same_invitation_ids_and_bytes() -> None:
    ref, sd, en = booked("C-again")
    first, second = make_rig(), make_rig()
    await first.feed(ref, sd, en)
    await second.feed(ref, sd, en)  # a rebuild, or a replica that lost the first's commit
    assert [(r.topic, r.value) for r in first.sent] == [(r.topic, r.value) for r in second.sent]


async def test_events_the_service_does_not_read_are_skipped_unread(rig: Rig) -> None:
    noise = da_notification("C-noise")
    outcome = await rig.feed(noise)
    assert (outcome.handled, outcome.ignored) == (0, 1)
    assert rig.store.children == {}


async def test_undecodable_record_is_deadlettered_with_its_original_bytes(rig: Rig) -> None:
    await rig.feed_records(Origin(CASEWORK.name, 3, 42, b"C-x", b"{not json", ()))
    (dead,) = rig.dead()
    assert dead.value == b"{not json"
    assert header_map(dead.headers)["dlq.reason"] == "deserialization"
    assert header_map(dead.headers)["dlq.consumer.group"] == GROUP


async def test_nul_in_a_text_field_or_a_header_is_a_validation_dead_letter(rig: Rig) -> None:
    ref, sd, _ = booked("C-nul")
    bad_text = referral("C-nul2", at(2025, 4, 10))
    bad_text["source"]["ref"] = "REF\u00001"
    fine = origin(referral("C-nul3", at(2025, 4, 10)))
    bad_header = replace(fine, headers=(*fine.headers, ("traceparent", b"00-\x00-01")))
    outcome = await rig.feed_records(origin(ref), origin(bad_text), bad_header, origin(sd))
    assert (outcome.handled, outcome.dead_lettered) == (2, 2)
    assert [header_map(d.headers)["dlq.reason"] for d in rig.dead()] == ["validation"] * 2
    assert {d.value for d in rig.dead()} == {orjson.dumps(bad_text), bad_header.value}
    assert set(rig.store.children) == {"C-nul"}


async def test_an_event_the_calendar_cannot_date_is_a_processing_dead_letter_and_the_rest_lands(
    rig: Rig,
) -> None:
    ref, sd, en = booked("C-fine")
    too_late = strategy("C-2041", new_id(), at(2041, 3, 4))  # the calendar ends in 2040
    outcome = await rig.feed(ref, too_late, sd, en)
    assert (outcome.handled, outcome.dead_lettered) == (3, 1)
    (dead,) = rig.dead()
    headers = header_map(dead.headers)
    assert headers["dlq.reason"] == "processing"
    assert headers["dlq.exception.class"].endswith("CalendarRangeError")
    assert dead.value == orjson.dumps(too_late)
    assert set(rig.store.children) == {"C-fine"}
    assert len(rig.on(CONFERENCES.name)) == 4
    assert not rig.processed(too_late)


async def test_reports_track_lateness_and_quorum_before_the_conference(rig: Rig) -> None:
    ref, sd, en = booked("C-rep")
    conference = icpc_id("C-rep", UUID(sd["payload"]["strategy_id"]))
    await rig.feed(ref, sd, en)
    await rig.feed(
        report("C-rep", conference, "social_care", at(2025, 5, 1)),
        report("C-rep", conference, "police", at(2025, 5, 2), shared=False),
        report("C-rep", conference, "health", at(2025, 5, 7)),
    )
    booking = rig.store.children["C-rep"].conferences[conference]
    assert booking.pending
    assert {r.agency.value: (r.shared_with_family, r.on_time) for r in booking.reports} == {
        "police": (False, False),
        "health": (True, False),
        "social_care": (True, True),
    }
    assert booking.quorate_on_reports


async def test_referral_known_only_to_the_history_is_still_checked(rig: Rig) -> None:
    referral_id = new_id()
    rig.store.history["C-hist"] = [
        Referral(referral_id=UUID(referral_id), referral_at=at(2025, 4, 16))
    ]
    sd = strategy("C-hist", referral_id, at(2025, 4, 14))
    await rig.feed(sd, s47("C-hist", sd, at(2025, 4, 14, 15)))
    (dead,) = rig.dead()
    message = header_map(dead.headers)["dlq.exception.message"]
    assert "Section 47 enquiry start … is before the referral on …" in message
    assert "2025-04-1" not in message  # the rule, never the dates (issue 11 §4)


async def test_s47_completed_without_need_for_an_icpc_cancels_the_booking(rig: Rig) -> None:
    ref, sd, en = booked("C-nope")
    await rig.feed(ref, sd, en, s47_completed("C-nope", en, at(2025, 4, 25), icpc_required=False))
    booking = rig.store.children["C-nope"].conferences[
        icpc_id("C-nope", UUID(sd["payload"]["strategy_id"]))
    ]
    assert (booking.status, booking.closed_reason) == (
        ConferenceStatus.CANCELLED,
        "icpc_not_required",
    )


async def test_case_closure_ends_the_plan_and_cancels_the_pending_review(rig: Rig) -> None:
    ref, sd, en = booked("C-close")
    plan = new_id()
    await rig.feed(ref, sd, en, icpc("C-close", en, at(2025, 5, 7), plan_id=plan))
    await rig.feed(closed("C-close", ref["payload"]["referral_id"], at(2025, 6, 2)))
    record = rig.store.children["C-close"]
    assert record.plans[UUID(plan)].end_reason == "case_closed"
    review = record.conferences[review_id(UUID(plan), 1)]
    assert (review.status, review.closed_reason) == (ConferenceStatus.CANCELLED, "case_closed")


async def test_one_canonical_log_line_per_applied_event(rig: Rig) -> None:
    ref, sd, _ = booked("C-log")
    with capture_logs() as logs:
        await rig.feed(ref, sd)
    handled = [e for e in logs if e["event"] == "record_handled"]
    assert [(e["event_type"], e["action"], e["invitations"]) for e in handled] == [
        ("referral.accepted", "referral", 0),
        ("strategy_discussion.held", "icpc_scheduled", 4),
    ]
    assert all(e["child_id"] == "C-log" and e["consumer"] == CONSUMER for e in handled)
    assert {e["event_id"] for e in handled} == {ref["event_id"], sd["event_id"]}


async def test_an_event_refused_for_a_missing_record_is_applied_when_replayed_after_the_fix(
    rig: Rig,
) -> None:
    ref, sd, en = booked("C-fix")
    plan = new_id()
    early = core_group("C-fix", plan, at(2025, 5, 20))
    await rig.feed(ref, early)  # the plan's ICPC was not recorded yet
    assert header_map(rig.dead()[0].headers)["dlq.reason"] == "validation"
    assert not rig.processed(early)
    await rig.feed(sd, en, icpc("C-fix", en, at(2025, 5, 7), plan_id=plan))
    outcome = await rig.feed(early)  # `frontdoor dlq replay`, byte for byte
    assert outcome.handled == 1
    assert rig.store.children["C-fix"].plans[UUID(plan)].core_groups == 1


# -- every invariant violation is dead-lettered, never applied ------------------------------------

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Scenario = Callable[[str], tuple[list[dict[str, Any]], dict[str, Any], str]]


def plan_before_referral(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref = referral(c, at(2025, 3, 4))
    sd = strategy(c, ref["payload"]["referral_id"], at(2025, 3, 4, 14))
    en = s47(c, sd, at(2025, 3, 4, 15))
    early = icpc(c, en, at(2025, 3, 3), plan_id=new_id())
    return [ref], early, "CP plan start … is before the referral on …"


def icpc_before_referral(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref = referral(c, at(2025, 3, 4))
    sd = strategy(c, ref["payload"]["referral_id"], at(2025, 3, 4, 14))
    early = icpc(c, s47(c, sd, at(2025, 3, 4)), at(2025, 3, 3), plan_id=None)
    return [ref], early, "ICPC date … is before the referral on …"


def s47_before_referral(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref = referral(c, at(2025, 3, 4))
    sd = strategy(c, ref["payload"]["referral_id"], at(2025, 3, 3))
    return [ref], s47(c, sd, at(2025, 3, 3)), "Section 47 enquiry start … is before"


def two_open_plans(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, sd, en = booked(c)
    sd2 = strategy(c, ref["payload"]["referral_id"], at(2025, 6, 2))
    en2 = s47(c, sd2, at(2025, 6, 2))
    setup = [ref, sd, en, icpc(c, en, at(2025, 5, 7), plan_id=new_id()), sd2, en2]
    return setup, icpc(c, en2, at(2025, 6, 16), plan_id=new_id()), "no two open child protection"


def review_before_plan(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, sd, en = booked(c)
    plan = new_id()
    setup = [ref, sd, en, icpc(c, en, at(2025, 5, 7), plan_id=plan)]
    return setup, rcpc(c, plan, at(2025, 5, 6), continues=True), "before CP plan"


def two_open_s47s(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, sd, en = booked(c)
    other = strategy(c, ref["payload"]["referral_id"], at(2025, 4, 22))
    return [ref, sd, en], s47(c, other, at(2025, 4, 22)), "no two open section 47 enquiries"


def activity_after_nfa(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref = referral(c, at(2025, 4, 10))
    rid = ref["payload"]["referral_id"]
    sd = strategy(c, rid, at(2025, 4, 14))
    setup = [ref, closed(c, rid, at(2025, 4, 11), nfa=True)]
    return setup, sd, "was closed as no further action on …"


def nfa_closure_after_activity(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, sd, en = booked(c)
    nfa = closed(c, ref["payload"]["referral_id"], at(2025, 4, 20), nfa=True)
    return [ref, sd, en], nfa, "cannot be closed as no further action"


def icpc_on_a_bank_holiday(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, sd, en = booked(c)
    return [ref, sd, en], icpc(c, en, at(2025, 5, 5), plan_id=None), "falls on a bank holiday"


def core_group_of_an_unknown_plan(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, _, _ = booked(c)
    return [ref], core_group(c, new_id(), at(2025, 5, 20)), "which no ICPC"


def report_for_an_unknown_conference(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, _, _ = booked(c)
    return [ref], report(c, new_id(), "police", at(2025, 5, 2)), "not on child"


def plan_ending_before_it_started(c: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    ref, sd, en = booked(c)
    plan = new_id()
    setup = [ref, sd, en, icpc(c, en, at(2025, 5, 7), plan_id=plan)]
    return setup, plan_ended(c, plan, at(2025, 5, 6)), "the CP plan end on … is before"


SCENARIOS: list[Scenario] = [
    plan_before_referral,
    icpc_before_referral,
    s47_before_referral,
    two_open_plans,
    review_before_plan,
    two_open_s47s,
    activity_after_nfa,
    nfa_closure_after_activity,
    icpc_on_a_bank_holiday,
    core_group_of_an_unknown_plan,
    report_for_an_unknown_conference,
    plan_ending_before_it_started,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_each_invariant_violation_is_deadlettered_and_never_reaches_the_views(
    rig: Rig, scenario: Scenario
) -> None:
    child = f"C-{scenario.__name__}"
    setup, violating, message = scenario(child)
    await rig.feed(*setup)
    assert rig.dead() == []
    record = rig.store.children.get(child)
    rig.clear()

    outcome = await rig.feed(violating)
    assert (outcome.handled, outcome.dead_lettered) == (0, 1)
    (dead,) = rig.dead()
    headers = header_map(dead.headers)
    assert headers["dlq.reason"] == "validation"
    assert headers["dlq.exception.class"].endswith("InvariantViolation")
    assert message in headers["dlq.exception.message"]
    assert not DATE.search(headers["dlq.exception.message"])  # field and rule, never a value
    assert headers["dlq.original.topic"] == CASEWORK.name
    assert headers["dlq.consumer.group"] == GROUP
    assert dead.value == orjson.dumps(violating)
    assert dead.key == child.encode()
    assert rig.store.children.get(child) == record
    assert not rig.processed(violating)
    assert [r for r in rig.sent if r.topic != DEADLETTER.name] == []


@pytest.mark.parametrize(
    ("attending", "quorate"),
    [
        (("social_care", "police", "education"), True),
        (("social_care", "police"), False),
        (("police", "health", "education"), False),
        ((), None),  # the case system did not say who came
    ],
)
async def test_quorum_at_the_icpc_is_judged_on_who_attended(
    rig: Rig, attending: tuple[str, ...], quorate: bool | None
) -> None:
    ref, sd, en = booked("C-q")
    await rig.feed(ref, sd, en, icpc("C-q", en, at(2025, 5, 7), plan_id=None, attending=attending))
    (held,) = rig.store.children["C-q"].conferences.values()
    assert (held.status, held.quorate, held.outcome) == (ConferenceStatus.HELD, quorate, "no_plan")
