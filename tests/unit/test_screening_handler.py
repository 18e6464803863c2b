"""Screening's handlers through the real pipeline with an in-memory store: triage, crisis,
idempotency, dead letters, decisions and the canonical log line."""

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
from services.common.pipeline import WorkerGivesUpError
from services.common.publishing import OutRecord
from services.screening.adapters.rules_file import load_rule_book, load_rules
from services.screening.domain.announcements import Triaged, derived_id
from services.screening.domain.deadlines import office_hours_test, triage_window_deadline
from services.screening.domain.from_event import TriageHistory
from services.screening.domain.history import HistoryQuery, with_batch_incidents
from services.screening.handlers import DecisionHandler, TriageHandler
from tests.factories import contact, da_notification, envelope, to_line
from tests.harness import NOW, PipelineHarness

CALENDAR = WorkingCalendar.england_and_wales(2010, 2030)
RULES = load_rule_book()
WINDOWS = {
    TriagePriority.RED: 4.0,
    TriagePriority.AMBER: 24.0,
    TriagePriority.GREEN: 72.0,
    TriagePriority.BLUE: 72.0,
}
SATURDAY_2AM = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # GMT: 02:00 London, contact at 08:00
TUESDAY_4AM = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)  # contact received Tuesday 10:00
GROUP = "frontdoor-screening-triage"


class MemoryScreeningStore:
    """Keeps what the PostgreSQL adapter keeps; history comes from its own results."""

    def __init__(self, prior: dict[str, TriageHistory] | None = None) -> None:
        self.prior = prior or {}
        self.results: dict[UUID, dict[str, Any]] = {}
        self.decisions: dict[UUID, ScreeningDecisionRecorded] = {}
        self.fail_next_record: BaseException | None = None

    def __call__(self, _connection: Any) -> MemoryScreeningStore:
        return self

    async def histories(self, queries: Sequence[HistoryQuery]) -> dict[UUID, TriageHistory]:
        out = {}
        for q in queries:
            base = self.prior.get(q.child_id, TriageHistory())
            earlier = tuple(
                row["incident_at"]
                for row in self.results.values()
                if row["event_type"] == "police.da_notification"
                and (
                    row["child_id"] == q.child_id
                    or (q.family_id is not None and row["family_id"] == q.family_id)
                )
            )
            out[q.event_id] = base.model_copy(update={"incidents_at": base.incidents_at + earlier})
        return out

    async def record_triage(self, triaged: Sequence[Triaged]) -> int:
        if self.fail_next_record is not None:
            exc, self.fail_next_record = self.fail_next_record, None
            raise exc
        for t in triaged:
            decision = self.decisions.get(t.contact.payload.contact_id)
            self.results.setdefault(
                t.contact.event_id,
                {
                    "event_type": t.contact.event_type,
                    "child_id": t.contact.subject.child_id,
                    "family_id": t.contact.subject.family_id,
                    "contact_id": t.contact.payload.contact_id,
                    "incident_at": t.incident_at,
                    "priority": t.result.priority,
                    "rules_version": t.result.rules_version,
                    "operation_encompass": t.result.starts_operation_encompass,
                    "triaged_event_id": t.published.event_id,
                    "decided_at": decision.payload.decided_at if decision else None,
                    "decision": decision.payload.decision.value if decision else None,
                },
            )
        return len(triaged)

    async def record_decisions(self, decisions: Sequence[ScreeningDecisionRecorded]) -> int:
        for d in decisions:
            kept = self.decisions.get(d.payload.contact_id)
            if kept is None or d.payload.decided_at >= kept.payload.decided_at:
                self.decisions[d.payload.contact_id] = d
            for row in self.results.values():
                if row["contact_id"] == d.payload.contact_id:
                    latest = self.decisions[d.payload.contact_id].payload
                    row["decided_at"], row["decision"] = latest.decided_at, latest.decision.value
        return len(decisions)


def origin(value: bytes | None, offset: int = 0, **headers: bytes) -> Origin:
    return Origin("frontdoor.contacts", 0, offset, b"C1", value, tuple(headers.items()))


def on_casework(value: bytes | None, offset: int = 0, **headers: bytes) -> Origin:
    return Origin("frontdoor.casework", 0, offset, b"C1", value, tuple(headers.items()))


def triage_harness(
    store: MemoryScreeningStore, now: datetime = NOW, calendar: WorkingCalendar = CALENDAR
) -> PipelineHarness:
    handler = TriageHandler(
        store,
        RULES,
        deadline=triage_window_deadline,
        in_office_hours=office_hours_test(calendar, DEFAULT_OFFICE_HOURS),
    )
    return PipelineHarness(
        handler,
        consumer="screening.triage",
        topic="frontdoor.contacts",
        group=GROUP,
        clock=lambda: now,
    )


def decision_harness(store: MemoryScreeningStore) -> PipelineHarness:
    return PipelineHarness(
        DecisionHandler(store),
        consumer="screening.decisions",
        topic="frontdoor.casework",
        group="frontdoor-screening-decisions",
        event_types=frozenset({"screening.decision_recorded"}),
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


def published(record: OutRecord) -> Any:
    assert record.value is not None
    return parse_event(orjson.loads(record.value))


def with_family(event: dict[str, Any], family: str) -> dict[str, Any]:
    changed = {**event, "subject": {**event["subject"], "family_id": family}}
    parse_event(changed)
    return changed


# ── triage ───────────────────────────────────────────────────────────────────────────────────


async def test_da_notification_is_triaged_onto_casework_keyed_by_child() -> None:
    h = triage_harness(MemoryScreeningStore())
    event = da_notification(dash=11)
    outcome = await h.feed([origin(to_line(event))])

    assert (outcome.handled, outcome.dead_lettered) == (1, 0)
    [record] = h.sent
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
    # event time, not processing time: the triage applies at the contact's receipt
    received = datetime.fromisoformat(event["payload"]["contact_at"])
    assert triaged.payload.triaged_at == received
    assert triaged.occurred_at == received


async def test_triaged_event_id_is_uuid5_of_the_source_event_id() -> None:
    h = triage_harness(MemoryScreeningStore())
    event = contact()
    await h.feed([origin(to_line(event))])
    expected = uuid.uuid5(
        uuid.UUID("a3f5c2d0-6b1e-5f4a-9c8d-73e2b1f0d4a6"), f"screening.triaged:{event['event_id']}"
    )
    assert (
        published(h.sent[0]).event_id
        == expected
        == derived_id("screening.triaged", UUID(event["event_id"]))
    )
    [row] = h.ledger.outbox
    assert row.row.event_id == expected  # the outbox (and catch-up) key is the same id


async def test_correlation_id_is_carried_from_the_contact() -> None:
    h = triage_harness(MemoryScreeningStore())
    correlation = str(uuid.uuid4())
    event = {**contact(), "correlation_id": correlation}
    await h.feed([origin(to_line(event))])
    assert str(published(h.sent[0]).correlation_id) == correlation


async def test_red_notification_out_of_office_hours_also_raises_a_crisis() -> None:
    h = triage_harness(MemoryScreeningStore())
    event = da_notification(at=SATURDAY_2AM, dash=15)
    await h.feed([origin(to_line(event))])

    [crisis_record] = h.sent_to("frontdoor.crisis")
    crisis = published(crisis_record)
    assert isinstance(crisis, CrisisRaised)
    assert crisis_record.key == event["subject"]["child_id"].encode()
    assert crisis_record.headers == [("event_type", b"crisis.raised")]
    assert str(crisis.payload.trigger_event_id) == event["event_id"]
    assert crisis.payload.trigger_event_type == "police.da_notification"
    assert crisis.payload.reason.value == "high_risk_domestic_abuse"
    assert crisis.payload.urgency.value == "immediate"
    assert "out of office hours" in crisis.payload.explanation
    # issue 14: rules in words, not ids: the high-risk rule's own text
    assert "Police risk level high" in crisis.payload.explanation
    assert "police_risk.high" not in crisis.payload.explanation
    assert crisis.payload.explanation.startswith("Screen by Sat 01 Mar 12:00")
    assert crisis.event_id == derived_id("crisis.raised", UUID(event["event_id"]))
    assert published(h.sent_to("frontdoor.casework")[0]).payload.priority is TriagePriority.RED


async def test_red_notification_in_office_hours_raises_no_crisis() -> None:
    h = triage_harness(MemoryScreeningStore())
    await h.feed([origin(to_line(da_notification(at=TUESDAY_4AM, dash=15)))])
    assert h.sent_to("frontdoor.crisis") == []
    assert published(h.sent[0]).payload.priority is TriagePriority.RED


async def test_amber_out_of_office_hours_raises_no_crisis() -> None:
    h = triage_harness(MemoryScreeningStore())
    await h.feed([origin(to_line(da_notification(at=SATURDAY_2AM, dash=11)))])
    assert h.sent_to("frontdoor.crisis") == []


async def test_out_of_hours_is_judged_at_receipt_not_at_the_incident() -> None:
    # incident Monday 02:00, received 08:00 (out of hours): a crisis even though triaged at noon
    h = triage_harness(MemoryScreeningStore())
    early = da_notification(at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC), dash=15)
    later = da_notification(at=datetime(2025, 3, 3, 4, 0, tzinfo=UTC), dash=15)  # received 10:00
    await h.feed([origin(to_line(early)), origin(to_line(later), 1)])
    assert [str(published(r).payload.trigger_event_id) for r in h.sent_to("frontdoor.crisis")] == [
        early["event_id"]
    ]


async def test_a_crisis_with_every_rule_firing_still_fits_the_contract() -> None:
    h = triage_harness(MemoryScreeningStore())
    event = da_notification(at=SATURDAY_2AM, dash=20)
    event["payload"]["high_risk_markers"] = [m.value for m in HighRiskMarker]
    event["payload"]["child_injured"] = True
    await h.feed([origin(to_line(event))])
    [record] = h.sent_to("frontdoor.crisis")
    crisis = published(record)  # validates against the contract's explanation limit
    # issue 14: the handover keeps every word — every reason's text is there, none cut
    result = published(h.sent_to("frontdoor.casework")[0]).payload
    texts = [r.text for r in result.reasons if not r.rule.startswith("priority.")]
    assert len(texts) > 5
    assert all(text in crisis.payload.explanation for text in texts)
    assert not crisis.payload.explanation.endswith("…")


@pytest.mark.parametrize(
    ("dash", "due_london"),
    [
        (15, datetime(2025, 3, 1, 12, 0, tzinfo=LONDON)),  # red: 4 h, even on a Saturday
        (11, datetime(2025, 3, 2, 8, 0, tzinfo=LONDON)),  # amber: 24 h
        (5, datetime(2025, 3, 4, 8, 0, tzinfo=LONDON)),  # green: 72 h
    ],
)
async def test_screening_is_due_the_priority_s_elapsed_hours_after_receipt_domain_2(
    dash: int, due_london: datetime
) -> None:
    """DOMAIN.md §2: MASH triage windows are elapsed hours from the notification (red 4, amber
    24, green 72), not office hours; received Saturday 08:00."""
    h = triage_harness(MemoryScreeningStore())
    await h.feed([origin(to_line(da_notification(at=SATURDAY_2AM, dash=dash)))])
    due = published(h.sent_to("frontdoor.casework")[0]).payload.screening_due_at
    assert due == due_london


async def test_redelivered_contact_changes_nothing() -> None:
    store = MemoryScreeningStore()
    h = triage_harness(store)
    line = to_line(da_notification(at=SATURDAY_2AM, dash=15))
    await h.feed([origin(line)])
    before = (dict(store.results), len(h.sent))
    outcome = await h.feed([origin(line, 7)])
    assert (outcome.handled, outcome.repeats) == (0, 1)
    assert (store.results, len(h.sent)) == before


async def test_repeat_within_one_batch_is_triaged_once() -> None:
    h = triage_harness(MemoryScreeningStore())
    line = to_line(contact())
    outcome = await h.feed([origin(line), origin(line, 1)])
    assert (outcome.handled, outcome.repeats) == (1, 1)
    assert len(h.sent) == 1


async def test_a_database_failure_before_commit_publishes_nothing_until_the_retry_commits() -> None:
    store = MemoryScreeningStore()
    h = triage_harness(store)
    event = da_notification(at=SATURDAY_2AM, dash=15)
    store.fail_next_record = ConnectionError("database went away before the commit")
    outcome = await h.feed([origin(to_line(event))])  # retried as a whole: infrastructure
    assert (outcome.handled, outcome.dead_lettered) == (1, 0)
    assert [published(r).event_id for r in h.sent] == [
        derived_id("screening.triaged", UUID(event["event_id"])),
        derived_id("crisis.raised", UUID(event["event_id"])),
    ]
    assert len(store.results) == 1


async def test_three_earlier_incidents_for_the_household_in_the_batch_raise_the_level() -> None:
    h = triage_harness(MemoryScreeningStore())
    family = f"F{uuid.uuid4().hex[:8]}"
    events = [
        with_family(da_notification(at=TUESDAY_4AM + timedelta(days=30 * i), dash=5), family)
        for i in range(4)
    ]
    await h.feed([origin(to_line(e), i) for i, e in enumerate(events)])
    by_source = {str(published(r).causation_id): published(r) for r in h.sent}
    last = by_source[events[-1]["event_id"]]
    assert "history.escalation" in [r.rule for r in last.payload.reasons]
    assert last.payload.priority is TriagePriority.AMBER
    first = by_source[events[0]["event_id"]]
    assert "history.escalation" not in [r.rule for r in first.payload.reasons]


async def test_contacts_of_one_child_in_one_batch_count_each_other_as_history() -> None:
    h = triage_harness(MemoryScreeningStore())
    child = f"C{uuid.uuid4().hex[:10]}"
    # newest first in the batch: the history is by incident time, not by offset
    events = [da_notification(child, at=TUESDAY_4AM - timedelta(days=d)) for d in (0, 10, 20, 30)]
    await h.feed([origin(to_line(e), i) for i, e in enumerate(events)])
    by_source = {str(published(r).causation_id): published(r) for r in h.sent}
    rules = [r.rule for r in by_source[events[0]["event_id"]].payload.reasons]
    assert "history.escalation" in rules
    oldest = [r.rule for r in by_source[events[-1]["event_id"]].payload.reasons]
    assert "history.escalation" not in oldest


async def test_school_and_health_contacts_are_not_repeat_incidents_domain_3() -> None:
    """DOMAIN.md §3: repeat incidents are police DA notifications only, not other contacts —
    earlier school contacts (stored and in the same batch) neither raise nor flag MARAC."""
    store = MemoryScreeningStore()
    h = triage_harness(store)
    child = f"C{uuid.uuid4().hex[:10]}"
    for days in (30, 20):
        await h.feed([origin(to_line(contact(child, at=TUESDAY_4AM - timedelta(days=days))))])
    batch = [
        contact(child, at=TUESDAY_4AM - timedelta(days=5)),
        da_notification(child, at=TUESDAY_4AM),
    ]
    await h.feed([origin(to_line(e), i) for i, e in enumerate(batch)])
    notified = next(
        r for r in map(published, h.sent) if r.causation_id == UUID(batch[1]["event_id"])
    )
    rules = [r.rule for r in notified.payload.reasons]
    assert not {"history.repeat", "history.escalation"} & set(rules)
    assert notified.payload.priority is TriagePriority.GREEN
    school = await h.feed([origin(to_line(contact(child, at=TUESDAY_4AM + timedelta(days=1))))])
    assert school.handled == 1
    later = published(h.sent[-1])
    assert not {"history.repeat", "history.escalation"} & {r.rule for r in later.payload.reasons}


async def test_one_earlier_notification_shows_a_repeat_reason_domain_3() -> None:
    h = triage_harness(MemoryScreeningStore())
    child = f"C{uuid.uuid4().hex[:10]}"
    await h.feed([origin(to_line(da_notification(child, at=TUESDAY_4AM - timedelta(days=40))))])
    await h.feed([origin(to_line(da_notification(child, at=TUESDAY_4AM)))])
    rules = [r.rule for r in published(h.sent[-1]).payload.reasons]
    assert "history.repeat" in rules
    assert "history.escalation" not in rules


def _notification_on(at: datetime, dob: str) -> dict[str, Any]:
    event = da_notification(at=at)
    event["payload"]["child"]["date_of_birth"] = dob
    parse_event(event)
    return event


async def test_a_may_2011_notification_is_triaged_by_the_2011_rules_domain_2() -> None:
    """DOMAIN.md §2 "which rules apply": the edition in force on the contact's own date, never
    the processing date; 2011 predates Operation Encompass, so no notification starts it."""
    store = MemoryScreeningStore()
    h = triage_harness(store)
    may_2011 = _notification_on(datetime(2011, 5, 10, 21, 0, tzinfo=UTC), "2003-02-01")
    june_2024 = _notification_on(datetime(2024, 6, 4, 21, 0, tzinfo=UTC), "2016-02-01")
    await h.feed([origin(to_line(may_2011)), origin(to_line(june_2024), 1)])
    rows = {str(k): v for k, v in store.results.items()}
    assert rows[may_2011["event_id"]]["rules_version"] == "mash-2011.1"
    assert rows[may_2011["event_id"]]["operation_encompass"] is False
    assert rows[june_2024["event_id"]]["rules_version"] == "mash-2024.1"
    assert rows[june_2024["event_id"]]["operation_encompass"] is True
    triaged = {str(published(r).causation_id): published(r) for r in h.sent}
    assert triaged[may_2011["event_id"]].payload.triaged_at == datetime.fromisoformat(
        may_2011["payload"]["contact_at"]
    )


async def test_a_contact_before_every_edition_is_a_processing_dead_letter() -> None:
    h = triage_harness(MemoryScreeningStore(), calendar=WorkingCalendar.england_and_wales(2005))
    outcome = await h.feed([origin(to_line(_notification_on(datetime(2009, 5, 5, tzinfo=UTC),
                                                            "2001-01-01")))])  # fmt: skip
    assert outcome.dead_lettered == 1
    [dead] = h.sent_to("frontdoor.deadletter")
    dlq = header_map(dead.headers)
    assert dlq["dlq.reason"] == "processing"
    assert "no triage rule set is in force on" in dlq["dlq.exception.message"]


async def test_earlier_results_for_the_child_count_as_repeat_incidents() -> None:
    h = triage_harness(MemoryScreeningStore())
    child = f"C{uuid.uuid4().hex[:10]}"
    for days in (10, 20, 30):
        earlier = da_notification(child, at=TUESDAY_4AM - timedelta(days=days))
        await h.feed([origin(to_line(earlier))])
    await h.feed([origin(to_line(da_notification(child, at=TUESDAY_4AM)))])
    last = published(h.sent[-1])
    assert "history.escalation" in [r.rule for r in last.payload.reasons]


async def test_child_open_to_a_team_is_routed_to_that_team() -> None:
    child = f"C{uuid.uuid4().hex[:10]}"
    h = triage_harness(
        MemoryScreeningStore({child: TriageHistory(open_case_team="Safeguarding East")})
    )
    await h.feed([origin(to_line(contact(child)))])
    route = published(h.sent[0]).payload.route
    assert (route.kind.value, route.team) == ("open_case", "Safeguarding East")


async def test_open_cp_plan_from_history_makes_at_least_amber() -> None:
    child = f"C{uuid.uuid4().hex[:10]}"
    h = triage_harness(MemoryScreeningStore({child: TriageHistory(open_cp_plan=True)}))
    await h.feed([origin(to_line(da_notification(child)))])
    assert published(h.sent[0]).payload.priority is TriagePriority.AMBER


def test_one_incident_notified_for_each_sibling_counts_once() -> None:
    family, at = "F1", TUESDAY_4AM
    queries = [HistoryQuery(uuid.uuid4(), f"C{i}", family, at, at) for i in range(3)]
    histories = with_batch_incidents(queries, {})
    assert all(h.incidents_at == (at,) for h in histories.values())


def test_a_batch_contact_received_later_is_not_in_an_earlier_contacts_history() -> None:
    family = "F2"
    earlier_incident = TUESDAY_4AM - timedelta(days=3)
    # notified after the contact below was received: unknown when it was triaged
    late = HistoryQuery(uuid.uuid4(), "C1", family, earlier_incident, TUESDAY_4AM + timedelta(1))
    contact_ = HistoryQuery(uuid.uuid4(), "C2", family, TUESDAY_4AM, TUESDAY_4AM)
    histories = with_batch_incidents([late, contact_], {})
    assert histories[contact_.event_id].incidents_at == ()
    assert histories[late.event_id].incidents_at == (TUESDAY_4AM,)


async def test_a_contact_is_held_while_its_history_is_incomplete_then_triaged() -> None:
    clock = [0.0]
    horizon: list[datetime | None] = [None]
    handler = TriageHandler(
        MemoryScreeningStore(),
        load_rules(None),
        deadline=lambda _p, at: at + timedelta(hours=4),
        in_office_hours=lambda _at: True,
        horizon=lambda: horizon[0],
        history_wait_seconds=30.0,
        monotonic=lambda: clock[0],
    )
    h = PipelineHarness(handler, consumer="screening.triage", topic="frontdoor.contacts")
    h.pipeline.give_up_seconds = 0.3
    event = da_notification()
    received = datetime.fromisoformat(event["payload"]["contact_at"])
    with pytest.raises(WorkerGivesUpError):  # held: the horizon is unknown
        await h.feed([origin(to_line(event))])
    assert h.sent == []
    horizon[0] = received + timedelta(seconds=1)  # intake has recorded past it
    outcome = await h.feed([origin(to_line(event), 1)])
    assert outcome.handled == 1


async def test_a_contact_is_not_held_longer_than_the_wait_limit() -> None:
    clock = [0.0]
    handler = TriageHandler(
        MemoryScreeningStore(),
        load_rules(None),
        deadline=lambda _p, at: at + timedelta(hours=4),
        in_office_hours=lambda _at: True,
        horizon=lambda: None,
        history_wait_seconds=30.0,
        monotonic=lambda: clock[0],
    )
    h = PipelineHarness(handler, consumer="screening.triage", topic="frontdoor.contacts")
    h.pipeline.give_up_seconds = 0.3
    event = da_notification()
    with pytest.raises(WorkerGivesUpError):
        await h.feed([origin(to_line(event))])
    clock[0] = 31.0  # the limit passed: triage with what is recorded
    outcome = await h.feed([origin(to_line(event), 1)])
    assert outcome.handled == 1


# ── dead letters ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("value", "headers", "reason", "error"),
    [
        (b'{"event_id": "not closed', {}, "deserialization", "NotAnObjectError"),
        (b"[1, 2]", {}, "deserialization", "NotAnObjectError"),
        (None, {}, "deserialization", "NotAnObjectError"),
        (
            to_line({**contact(), "event_type": "contact.teleported"}),
            {},
            "validation",
            "UnknownEventType",
        ),
        (
            to_line({**contact(), "source": {**contact()["source"], "ref": "a\u0000b"}}),
            {},
            "validation",
            "ContractViolationError",
        ),
        (to_line(contact()), {"note": b"nul\x00here"}, "validation", "BadHeaderError"),
    ],
)
async def test_records_the_contract_refuses_are_dead_lettered_with_their_reason(
    value: bytes | None, headers: dict[str, bytes], reason: str, error: str
) -> None:
    store = MemoryScreeningStore()
    h = triage_harness(store)
    good = contact()
    outcome = await h.feed([origin(value, 0, trace=b"t-1", **headers), origin(to_line(good), 1)])
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    [dead] = h.sent_to("frontdoor.deadletter")
    dlq = header_map(dead.headers)
    assert dead.value == value
    assert dead.key == b"C1"
    assert dlq["dlq.reason"] == reason
    assert error in dlq["dlq.exception.class"]
    assert dlq["dlq.consumer.group"] == GROUP
    assert dlq["dlq.original.topic"] == "frontdoor.contacts"
    assert dlq["trace"] == "t-1"
    assert list(store.results) == [UUID(good["event_id"])]


async def test_a_casework_event_on_the_contacts_topic_is_a_validation_dead_letter() -> None:
    store = MemoryScreeningStore()
    h = triage_harness(store)
    event = decision(contact())
    outcome = await h.feed([origin(to_line(event))])
    assert (outcome.handled, outcome.dead_lettered) == (0, 1)
    [dead] = h.sent_to("frontdoor.deadletter")
    dlq = header_map(dead.headers)
    assert dlq["dlq.reason"] == "validation"
    assert "does not belong on the contacts topic" in dlq["dlq.exception.message"]
    # not marked processed: replayed after a fix, it is handled as new
    assert ("screening.triage", UUID(event["event_id"])) not in h.ledger.processed


async def test_a_contact_that_fails_triage_is_a_processing_dead_letter_and_the_rest_proceed() -> (
    None
):
    store = MemoryScreeningStore()
    h = triage_harness(store)
    beyond = contact(at=datetime(2035, 3, 6, 10, 0, tzinfo=UTC))  # past the calendar's years
    others = [contact() for _ in range(5)]
    lines = [to_line(e) for e in (*others[:2], beyond, *others[2:])]
    outcome = await h.feed([origin(line, i) for i, line in enumerate(lines)])
    assert (outcome.handled, outcome.dead_lettered) == (5, 1)
    [dead] = h.sent_to("frontdoor.deadletter")
    dlq = header_map(dead.headers)
    assert dlq["dlq.reason"] == "processing"
    assert "CalendarRangeError" in dlq["dlq.exception.class"]
    assert dead.value == to_line(beyond)
    assert set(store.results) == {UUID(e["event_id"]) for e in others}
    assert len(h.sent_to("frontdoor.casework")) == 5


# ── logs ─────────────────────────────────────────────────────────────────────────────────────


async def test_one_log_line_per_triaged_contact_without_personal_data() -> None:
    h = triage_harness(MemoryScreeningStore())
    event = da_notification(at=SATURDAY_2AM, dash=15)
    with capture_logs() as logs:
        await h.feed([origin(to_line(event))])
    [line] = [entry for entry in logs if entry["event"] == "record_handled"]
    assert line["event_id"] == event["event_id"]
    assert line["child_id"] == event["subject"]["child_id"]
    assert (line["consumer"], line["topic"], line["offset"]) == (
        "screening.triage",
        "frontdoor.contacts",
        0,
    )
    assert (line["outcome"], line["priority"], line["crisis"], line["route"]) == (
        "handled",
        "red",
        True,
        "mash_queue",
    )
    assert "Alex" not in str(logs)
    assert "Verbal argument" not in str(logs)


# ── decisions ────────────────────────────────────────────────────────────────────────────────


async def test_a_decision_closes_the_screening_beside_the_triage_result() -> None:
    store = MemoryScreeningStore()
    event = da_notification(dash=11)
    await triage_harness(store).feed([origin(to_line(event))])
    decided_at = NOW + timedelta(hours=2)
    outcome = await decision_harness(store).feed(
        [on_casework(to_line(decision(event, at=decided_at)))]
    )
    assert outcome.handled == 1
    row = store.results[UUID(event["event_id"])]
    assert (row["decided_at"], row["decision"]) == (decided_at, "early_help")
    assert row["priority"] is TriagePriority.AMBER  # the triage result is kept beside it


async def test_a_decision_that_arrives_before_the_triage_is_kept_for_it() -> None:
    store = MemoryScreeningStore()
    event = contact()
    await decision_harness(store).feed([on_casework(to_line(decision(event)))])
    await triage_harness(store).feed([origin(to_line(event))])
    assert store.results[UUID(event["event_id"])]["decision"] == "early_help"


async def test_the_decision_handler_ignores_other_casework_events() -> None:
    store = MemoryScreeningStore()
    triage = triage_harness(store)
    await triage.feed([origin(to_line(contact()))])
    triaged = triage.sent[0].value  # a screening.triaged record, as it appears on casework
    d = decision_harness(store)
    outcome = await d.feed(
        [on_casework(triaged, 0, event_type=b"screening.triaged"), on_casework(triaged, 1)]
    )
    assert (outcome.handled, outcome.ignored, outcome.dead_lettered) == (0, 2, 0)
    assert d.sent == []  # nothing published for them


async def test_a_redelivered_decision_changes_nothing() -> None:
    store = MemoryScreeningStore()
    event = contact()
    await triage_harness(store).feed([origin(to_line(event))])
    line = to_line(decision(event))
    d = decision_harness(store)
    await d.feed([on_casework(line)])
    outcome = await d.feed([on_casework(line, 3)])
    assert (outcome.handled, outcome.repeats) == (0, 1)


async def test_an_invalid_decision_is_a_validation_dead_letter() -> None:
    bad = decision(contact())
    bad["payload"]["decision"] = "referral"  # a referral decision needs its referral_id
    d = decision_harness(MemoryScreeningStore())
    outcome = await d.feed([on_casework(to_line(bad))])
    assert outcome.dead_lettered == 1
    dlq = header_map(d.sent[0].headers)
    assert (dlq["dlq.reason"], dlq["dlq.consumer.group"]) == (
        "validation",
        "frontdoor-screening-decisions",
    )
