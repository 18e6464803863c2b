"""Screening's handlers with in-memory ports: triage, crisis, idempotency, dead letters, decisions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.codes import HighRiskMarker, TriagePriority
from schemas.events.casework import ScreeningDecisionRecorded
from schemas.events.triage import CrisisRaised, ScreeningTriaged
from schemas.registry import parse_event
from services.common.calendar import DEFAULT_OFFICE_HOURS, LONDON, WorkingCalendar
from services.common.deadletter import Origin, header_map
from services.common.publishing import OutRecord, RecordingPublisher
from services.screening.adapters.records import derived_id
from services.screening.adapters.rules_file import load_rules
from services.screening.domain.from_event import TriageHistory
from services.screening.handlers import (
    DecisionHandler,
    HistoryQuery,
    Known,
    Triaged,
    TriageHandler,
    office_hours_test,
    with_batch_incidents,
    working_hours_deadline,
)
from tests.factories import contact, da_notification, envelope, to_line

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
CALENDAR = WorkingCalendar.england_and_wales(2020, 2030)
RULES = load_rules()
WINDOWS = {
    TriagePriority.RED: 4.0,
    TriagePriority.AMBER: 24.0,
    TriagePriority.GREEN: 72.0,
    TriagePriority.BLUE: 72.0,
}
SATURDAY_2AM = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # GMT: 02:00 London, contact at 08:00
TUESDAY_4AM = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)  # contact received Tuesday 10:00


class MemoryScreeningStore:
    """Keeps what the PostgreSQL adapter keeps; history comes from its own results."""

    def __init__(self, prior: dict[str, TriageHistory] | None = None) -> None:
        self.prior = prior or {}
        self.ledger: set[tuple[str, UUID]] = set()
        self.results: dict[UUID, dict[str, Any]] = {}
        self.decisions: dict[UUID, ScreeningDecisionRecorded] = {}
        self.fail_next_record = False

    async def processed(self, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        return {i for i in event_ids if (consumer, i) in self.ledger}

    async def known(self, consumer: str, queries: Sequence[HistoryQuery]) -> Known:
        return Known(
            processed=frozenset(await self.processed(consumer, [q.event_id for q in queries])),
            histories=await self.histories(queries),
        )

    async def histories(self, queries: Sequence[HistoryQuery]) -> dict[UUID, TriageHistory]:
        out = {}
        for q in queries:
            base = self.prior.get(q.child_id, TriageHistory())
            earlier = tuple(
                row["incident_at"]
                for row in self.results.values()
                if row["child_id"] == q.child_id
                or (q.family_id is not None and row["family_id"] == q.family_id)
            )
            out[q.event_id] = base.model_copy(update={"incidents_at": base.incidents_at + earlier})
        return out

    async def record_triage(self, consumer: str, triaged: Sequence[Triaged]) -> int:
        if self.fail_next_record:
            self.fail_next_record = False
            raise ConnectionError("database went away before the commit")
        for t in triaged:
            decision = self.decisions.get(t.contact.payload.contact_id)
            self.results.setdefault(
                t.contact.event_id,
                {
                    "child_id": t.contact.subject.child_id,
                    "family_id": t.contact.subject.family_id,
                    "contact_id": t.contact.payload.contact_id,
                    "incident_at": t.incident_at,
                    "priority": t.result.priority,
                    "triaged_event_id": t.published.event_id,
                    "decided_at": decision.payload.decided_at if decision else None,
                    "decision": decision.payload.decision.value if decision else None,
                },
            )
            self.ledger.add((consumer, t.contact.event_id))
        return len(triaged)

    async def record_decisions(
        self, consumer: str, decisions: Sequence[ScreeningDecisionRecorded]
    ) -> int:
        for d in decisions:
            kept = self.decisions.get(d.payload.contact_id)
            if kept is None or d.payload.decided_at >= kept.payload.decided_at:
                self.decisions[d.payload.contact_id] = d
            for row in self.results.values():
                if row["contact_id"] == d.payload.contact_id:
                    latest = self.decisions[d.payload.contact_id].payload
                    row["decided_at"], row["decision"] = latest.decided_at, latest.decision.value
            self.ledger.add((consumer, d.event_id))
        return len(decisions)


def origin(value: bytes | None, offset: int = 0, **headers: bytes) -> Origin:
    return Origin("frontdoor.contacts", 0, offset, b"C1", value, tuple(headers.items()))


def triage_handler(
    store: MemoryScreeningStore, pub: RecordingPublisher, now: datetime = NOW
) -> TriageHandler:
    return TriageHandler(
        store=store,
        publisher=pub,
        rules=RULES,
        deadline=working_hours_deadline(CALENDAR, DEFAULT_OFFICE_HOURS, WINDOWS),
        in_office_hours=office_hours_test(CALENDAR, DEFAULT_OFFICE_HOURS),
        consumer_group="frontdoor-screening",
        clock=lambda: now,
    )


def decision_handler(store: MemoryScreeningStore, pub: RecordingPublisher) -> DecisionHandler:
    return DecisionHandler(
        store=store, publisher=pub, consumer_group="frontdoor-screening", clock=lambda: NOW
    )


def decision(
    event: dict[str, Any], *, at: datetime = NOW, kind: str = "early_help"
) -> dict[str, Any]:
    return envelope(
        "screening.decision_recorded",
        1,
        {
            "contact_id": event["payload"]["contact_id"],
            "decided_at": at.isoformat(),
            "decision": kind,
            "reason": "Family accept early help support.",
            "team": "MASH",
        },
        child=event["subject"]["child_id"],
        at=at,
    )


def on(topic: str, pub: RecordingPublisher) -> list[OutRecord]:
    return [r for r in pub.records if r.topic == topic]


def published(record: OutRecord) -> Any:
    assert record.value is not None
    return parse_event(orjson.loads(record.value))


def with_family(event: dict[str, Any], family: str) -> dict[str, Any]:
    changed = {**event, "subject": {**event["subject"], "family_id": family}}
    parse_event(changed)
    return changed


# ── triage ───────────────────────────────────────────────────────────────────────────────────


async def test_da_notification_is_triaged_onto_casework_keyed_by_child() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = da_notification(dash=11)
    outcome = await triage_handler(store, pub).handle_batch([origin(to_line(event))])

    assert (outcome.done, outcome.crises, outcome.dead_lettered) == (1, 0, 0)
    [record] = pub.records
    assert record.topic == "frontdoor.casework"
    assert record.key == event["subject"]["child_id"].encode()
    assert record.headers == [("event_type", b"screening.triaged")]
    triaged = published(record)
    assert isinstance(triaged, ScreeningTriaged)
    assert triaged.payload.priority is TriagePriority.AMBER
    assert "police_risk.medium" in [r.rule for r in triaged.payload.reasons]
    assert str(triaged.payload.contact_id) == event["payload"]["contact_id"]
    assert triaged.payload.route.team == "MASH"
    assert str(triaged.causation_id) == event["event_id"]
    assert triaged.payload.triaged_at == NOW


async def test_triaged_event_id_is_uuid5_of_the_source_event_id() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = contact()
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    expected = uuid.uuid5(
        uuid.UUID("a3f5c2d0-6b1e-5f4a-9c8d-73e2b1f0d4a6"), f"screening.triaged:{event['event_id']}"
    )
    assert (
        published(pub.records[0]).event_id
        == expected
        == derived_id("screening.triaged", UUID(event["event_id"]))
    )


async def test_correlation_id_is_carried_from_the_contact() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    correlation = str(uuid.uuid4())
    event = {**contact(), "correlation_id": correlation}
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    assert str(published(pub.records[0]).correlation_id) == correlation


async def test_red_notification_out_of_office_hours_also_raises_a_crisis() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = da_notification(at=SATURDAY_2AM, dash=15)
    outcome = await triage_handler(store, pub).handle_batch([origin(to_line(event))])

    assert outcome.crises == 1
    [crisis_record] = on("frontdoor.crisis", pub)
    crisis = published(crisis_record)
    assert isinstance(crisis, CrisisRaised)
    assert crisis_record.key == event["subject"]["child_id"].encode()
    assert str(crisis.payload.trigger_event_id) == event["event_id"]
    assert crisis.payload.trigger_event_type == "police.da_notification"
    assert crisis.payload.reason.value == "high_risk_domestic_abuse"
    assert crisis.payload.urgency.value == "immediate"
    assert "out of office hours" in crisis.payload.explanation
    assert "police_risk.high" in crisis.payload.explanation
    assert crisis.event_id == derived_id("crisis.raised", UUID(event["event_id"]))
    assert published(on("frontdoor.casework", pub)[0]).payload.priority is TriagePriority.RED


async def test_red_notification_in_office_hours_raises_no_crisis() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = da_notification(at=TUESDAY_4AM, dash=15)
    outcome = await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    assert outcome.crises == 0
    assert on("frontdoor.crisis", pub) == []
    assert published(pub.records[0]).payload.priority is TriagePriority.RED


async def test_amber_out_of_office_hours_raises_no_crisis() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    await triage_handler(store, pub).handle_batch(
        [origin(to_line(da_notification(at=SATURDAY_2AM, dash=11)))]
    )
    assert on("frontdoor.crisis", pub) == []


async def test_out_of_hours_is_judged_at_receipt_not_at_the_incident() -> None:
    # incident Monday 02:00, received 08:00 (out of hours): a crisis even though triaged at noon
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    early = da_notification(at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC), dash=15)
    later = da_notification(at=datetime(2025, 3, 3, 4, 0, tzinfo=UTC), dash=15)  # received 10:00
    await triage_handler(store, pub).handle_batch([origin(to_line(early)), origin(to_line(later))])
    assert [str(published(r).payload.trigger_event_id) for r in on("frontdoor.crisis", pub)] == [
        early["event_id"]
    ]


async def test_a_crisis_with_every_rule_firing_still_fits_the_contract() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = da_notification(at=SATURDAY_2AM, dash=20)
    event["payload"]["high_risk_markers"] = [m.value for m in HighRiskMarker]
    event["payload"]["child_injured"] = True
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    [record] = on("frontdoor.crisis", pub)
    crisis = published(record)  # validates: the explanation is at most 200 characters
    assert len(crisis.payload.explanation) <= 200
    assert crisis.payload.explanation.endswith("…")


@pytest.mark.parametrize(
    ("dash", "due_london"),
    [
        (15, datetime(2025, 3, 3, 13, 0, tzinfo=LONDON)),  # red: 4 working hours from Mon 09:00
        (11, datetime(2025, 3, 5, 17, 0, tzinfo=LONDON)),  # amber: 24 h = 3 working days
        (5, datetime(2025, 3, 13, 17, 0, tzinfo=LONDON)),  # green: 72 h = 9 working days
    ],
)
async def test_screening_is_due_after_the_priority_s_working_hours(
    dash: int, due_london: datetime
) -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    # received on a Saturday: the clock starts on Monday at 09:00
    event = da_notification(at=SATURDAY_2AM, dash=dash)
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    due = published(on("frontdoor.casework", pub)[0]).payload.screening_due_at
    assert due == due_london


async def test_redelivered_contact_changes_nothing() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    line = to_line(da_notification(at=SATURDAY_2AM, dash=15))
    handler = triage_handler(store, pub)
    await handler.handle_batch([origin(line)])
    before = (dict(store.results), set(store.ledger), len(pub.records))
    outcome = await handler.handle_batch([origin(line, 7)])
    assert (outcome.done, outcome.duplicates) == (0, 1)
    assert (store.results, store.ledger, len(pub.records)) == before


async def test_repeat_within_one_batch_is_triaged_once() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    line = to_line(contact())
    outcome = await triage_handler(store, pub).handle_batch([origin(line), origin(line, 1)])
    assert (outcome.done, outcome.duplicates) == (1, 1)
    assert len(pub.records) == 1


async def test_a_crash_before_commit_republishes_the_same_ids_and_records_once() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    line = to_line(da_notification(at=SATURDAY_2AM, dash=15))
    store.fail_next_record = True
    with pytest.raises(ConnectionError):
        await triage_handler(store, pub).handle_batch([origin(line)])
    assert store.results == {}
    first = [published(r).event_id for r in pub.records]
    await triage_handler(store, pub, now=NOW + timedelta(seconds=5)).handle_batch([origin(line)])
    second = [published(r).event_id for r in pub.records[len(first) :]]
    assert first == second
    assert len(first) == 2  # the triage result and the crisis
    assert len(store.results) == 1


async def test_three_earlier_incidents_for_the_household_in_the_batch_raise_the_level() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    family = f"F{uuid.uuid4().hex[:8]}"
    events = [
        with_family(da_notification(at=TUESDAY_4AM + timedelta(days=30 * i), dash=5), family)
        for i in range(4)
    ]
    await triage_handler(store, pub).handle_batch(
        [origin(to_line(e), i) for i, e in enumerate(events)]
    )
    by_source = {str(published(r).causation_id): published(r) for r in pub.records}
    last = by_source[events[-1]["event_id"]]
    assert "history.repeat_incidents" in [r.rule for r in last.payload.reasons]
    assert last.payload.priority is TriagePriority.AMBER
    first = by_source[events[0]["event_id"]]
    assert "history.repeat_incidents" not in [r.rule for r in first.payload.reasons]


async def test_earlier_results_for_the_child_count_as_repeat_incidents() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    child = f"C{uuid.uuid4().hex[:10]}"
    handler = triage_handler(store, pub)
    for days in (10, 20, 30):
        earlier = da_notification(child, at=TUESDAY_4AM - timedelta(days=days))
        await handler.handle_batch([origin(to_line(earlier))])
    await handler.handle_batch([origin(to_line(da_notification(child, at=TUESDAY_4AM)))])
    last = published(pub.records[-1])
    assert "history.repeat_incidents" in [r.rule for r in last.payload.reasons]


async def test_child_open_to_a_team_is_routed_to_that_team() -> None:
    child = f"C{uuid.uuid4().hex[:10]}"
    store = MemoryScreeningStore({child: TriageHistory(open_case_team="Safeguarding East")})
    pub = RecordingPublisher()
    await triage_handler(store, pub).handle_batch([origin(to_line(contact(child)))])
    route = published(pub.records[0]).payload.route
    assert (route.kind.value, route.team) == ("open_case", "Safeguarding East")


async def test_open_cp_plan_from_history_makes_at_least_amber() -> None:
    child = f"C{uuid.uuid4().hex[:10]}"
    store = MemoryScreeningStore({child: TriageHistory(open_cp_plan=True)})
    pub = RecordingPublisher()
    await triage_handler(store, pub).handle_batch([origin(to_line(da_notification(child)))])
    assert published(pub.records[0]).payload.priority is TriagePriority.AMBER


def test_one_incident_notified_for_each_sibling_counts_once() -> None:
    family, at = "F1", TUESDAY_4AM
    queries = [HistoryQuery(uuid.uuid4(), f"C{i}", family, at) for i in range(3)]
    histories = with_batch_incidents(queries, {})
    assert all(h.incidents_at == (at,) for h in histories.values())


# ── dead letters ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("value", "reason", "error"),
    [
        (b'{"event_id": "not closed', "deserialization", "JSONDecodeError"),
        (b"[1, 2]", "deserialization", "ValueError"),
        (
            to_line({**contact(), "event_type": "contact.teleported"}),
            "validation",
            "UnknownEventType",
        ),
        (None, "deserialization", "ValueError"),
    ],
)
async def test_undecodable_records_are_dead_lettered_with_their_reason(
    value: bytes | None, reason: str, error: str
) -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    good = contact()
    outcome = await triage_handler(store, pub).handle_batch(
        [origin(value, 0, trace=b"t-1"), origin(to_line(good), 1)]
    )
    assert (outcome.done, outcome.dead_lettered) == (1, 1)
    [dead] = on("frontdoor.deadletter", pub)
    headers = header_map(dead.headers)
    assert dead.value == value
    assert dead.key == b"C1"
    assert headers["dlq.reason"] == reason
    assert error in headers["dlq.exception.class"]
    assert headers["dlq.consumer.group"] == "frontdoor-screening"
    assert headers["dlq.original.topic"] == "frontdoor.contacts"
    assert headers["trace"] == "t-1"


async def test_a_casework_event_on_the_contacts_topic_is_a_validation_dead_letter() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    line = to_line(decision(contact()))
    await triage_handler(store, pub).handle_batch([origin(line)])
    [dead] = on("frontdoor.deadletter", pub)
    assert header_map(dead.headers)["dlq.reason"] == "validation"
    assert (
        "does not belong on the contacts topic" in header_map(dead.headers)["dlq.exception.message"]
    )


async def test_a_contact_that_fails_triage_is_a_processing_dead_letter() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    beyond = contact(at=datetime(2035, 3, 6, 10, 0, tzinfo=UTC))  # past the calendar's years
    good = contact()
    outcome = await triage_handler(store, pub).handle_batch(
        [origin(to_line(beyond)), origin(to_line(good), 1)]
    )
    assert (outcome.done, outcome.dead_lettered) == (1, 1)
    [dead] = on("frontdoor.deadletter", pub)
    headers = header_map(dead.headers)
    assert headers["dlq.reason"] == "processing"
    assert "CalendarRangeError" in headers["dlq.exception.class"]
    assert UUID(beyond["event_id"]) not in store.results


# ── logs ─────────────────────────────────────────────────────────────────────────────────────


async def test_one_log_line_per_triaged_contact_without_personal_data() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = da_notification(at=SATURDAY_2AM, dash=15)
    with capture_logs() as logs:
        await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    [line] = [entry for entry in logs if entry["event"] == "screening_triaged"]
    assert line["event_id"] == event["event_id"]
    assert (line["priority"], line["crisis"], line["route"]) == ("red", True, "mash_queue")
    assert "Alex" not in str(logs)
    assert "Verbal argument" not in str(logs)


# ── decisions ────────────────────────────────────────────────────────────────────────────────


async def test_a_decision_closes_the_screening_beside_the_triage_result() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = da_notification(dash=11)
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    decided_at = NOW + timedelta(hours=2)
    outcome = await decision_handler(store, pub).handle_batch(
        [origin(to_line(decision(event, at=decided_at)))]
    )
    assert outcome.done == 1
    row = store.results[UUID(event["event_id"])]
    assert (row["decided_at"], row["decision"]) == (decided_at, "early_help")
    assert row["priority"] is TriagePriority.AMBER  # the triage result is kept beside it


async def test_a_decision_that_arrives_before_the_triage_is_kept_for_it() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = contact()
    await decision_handler(store, pub).handle_batch([origin(to_line(decision(event)))])
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    assert store.results[UUID(event["event_id"])]["decision"] == "early_help"


async def test_the_decision_handler_ignores_other_casework_events() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    await triage_handler(store, pub).handle_batch([origin(to_line(contact()))])
    triaged = pub.records[0].value  # a screening.triaged record, as it appears on casework
    outcome = await decision_handler(store, pub).handle_batch(
        [origin(triaged, 0, event_type=b"screening.triaged"), origin(triaged, 1)]
    )
    assert (outcome.done, outcome.ignored, outcome.dead_lettered) == (0, 2, 0)
    assert len(pub.records) == 1  # nothing published for them


async def test_a_redelivered_decision_changes_nothing() -> None:
    store, pub = MemoryScreeningStore(), RecordingPublisher()
    event = contact()
    await triage_handler(store, pub).handle_batch([origin(to_line(event))])
    line = to_line(decision(event))
    handler = decision_handler(store, pub)
    await handler.handle_batch([origin(line)])
    outcome = await handler.handle_batch([origin(line, 3)])
    assert (outcome.done, outcome.duplicates) == (0, 1)


async def test_an_invalid_decision_is_a_validation_dead_letter() -> None:
    store = MemoryScreeningStore()
    bad = decision(contact())
    bad["payload"]["decision"] = "referral"  # a referral decision needs its referral_id
    dead_pub = RecordingPublisher()
    outcome = await decision_handler(store, dead_pub).handle_batch([origin(to_line(bad))])
    assert outcome.dead_lettered == 1
    assert header_map(dead_pub.records[0].headers)["dlq.reason"] == "validation"
