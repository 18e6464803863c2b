"""Screening's PostgreSQL adapter against a real database: history, results, decisions, queue.

History rows are written straight into ``events`` (as intake would), each test with its own
children and families, so the tests share one database without seeing each other. The adapter
is bound to a connection (the pipeline unit's in a worker); here mostly to a pool, whose
``fetch``/``fetchval`` are the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import pytest

from schemas.events.casework import ScreeningDecisionRecorded
from schemas.events.contacts import ContactReceived, PoliceDaNotification
from schemas.registry import parse_event
from services.common.ledger import PostgresLedger
from services.common.settings import Endpoints
from services.screening.adapters.postgres import PostgresScreeningStore
from services.screening.adapters.rules_file import load_rules
from services.screening.domain.announcements import Triaged, triaged_event
from services.screening.domain.deadlines import triage_window_deadline
from services.screening.domain.from_event import TriageHistory, triage_input_from_event
from services.screening.domain.history import HistoryQuery
from services.screening.domain.triage import triage
from tests.factories import child_details, child_id, contact, da_notification, envelope

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
MOMENT = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
RULES = load_rules()
DUE = triage_window_deadline


@pytest.fixture
async def pool(endpoints: Endpoints) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(endpoints.database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


async def record_event(pool: asyncpg.Pool, event: dict[str, Any]) -> None:
    """What intake writes for an accepted event (the columns screening reads)."""
    model = parse_event(event)
    body = model.model_dump_json()
    await pool.execute(
        """INSERT INTO events (event_id, event_type, schema_version, occurred_at, child_id,
               family_id, source_agency, content_hash, source_topic, source_partition,
               source_offset, body)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'partner.events', 0, 0, $9::jsonb)""",
        model.event_id,
        model.event_type,
        model.schema_version,
        model.occurred_at,
        model.subject.child_id,
        model.subject.family_id,
        model.source.agency.value,
        hashlib.sha256(body.encode()).digest(),
        body,
    )


def in_family(event: dict[str, Any], family: str) -> dict[str, Any]:
    return {**event, "subject": {**event["subject"], "family_id": family}}


def referral(child: str, at: datetime, team: str) -> dict[str, Any]:
    return envelope(
        "referral.accepted",
        1,
        {
            "referral_id": str(uuid.uuid4()),
            "referral_at": at.isoformat(),
            "referral_source": "6",
            "primary_need": "N1",
            "team": team,
            "child": child_details(),
        },
        child=child,
        at=at,
    )


def closed(child: str, referral_event: dict[str, Any], at: datetime) -> dict[str, Any]:
    return envelope(
        "case.closed",
        1,
        {
            "referral_id": referral_event["payload"]["referral_id"],
            "closed_at": at.isoformat(),
            "reason": "RC8",
        },
        child=child,
        at=at,
    )


def icpc(child: str, at: datetime, *, plan: bool = True) -> dict[str, Any]:
    return envelope(
        "conference.icpc_held",
        1,
        {
            "conference_id": str(uuid.uuid4()),
            "s47_id": str(uuid.uuid4()),
            "referral_id": str(uuid.uuid4()),
            "conference_at": at.isoformat(),
            "invited_agencies": ["police", "health"],
            "plan": plan,
            "plan_id": str(uuid.uuid4()) if plan else None,
            "category": "NEG" if plan else None,
        },
        child=child,
        at=at,
    )


def plan_ended(child: str, conference: dict[str, Any], at: datetime) -> dict[str, Any]:
    return envelope(
        "cp_plan.ended",
        1,
        {
            "plan_id": conference["payload"]["plan_id"],
            "ended_at": at.isoformat(),
            "reason": "review_decision",
        },
        child=child,
        at=at,
    )


def query(child: str, family: str | None = None, at: datetime = MOMENT) -> HistoryQuery:
    return HistoryQuery(uuid.uuid4(), child, family, at, at)


async def history_of(pool: asyncpg.Pool, q: HistoryQuery) -> TriageHistory:
    return (await PostgresScreeningStore(pool).histories([q]))[q.event_id]


def triaged(event: dict[str, Any]) -> Triaged:
    model = parse_event(event)
    assert isinstance(model, ContactReceived | PoliceDaNotification)
    result = triage(
        triage_input_from_event(model, TriageHistory()), RULES, calendar_due=DUE, out_of_hours=False
    )
    return Triaged(model, result, triaged_event(model, result, at=NOW))


def decision_for(event: dict[str, Any], at: datetime, kind: str) -> ScreeningDecisionRecorded:
    model = parse_event(
        envelope(
            "screening.decision_recorded",
            1,
            {
                "contact_id": event["payload"]["contact_id"],
                "decided_at": at.isoformat(),
                "decision": kind,
                "reason": "Discussed with the family.",
                "team": "MASH",
            },
            child=event["subject"]["child_id"],
            at=at,
        )
    )
    assert isinstance(model, ScreeningDecisionRecorded)
    return model


# ── history ──────────────────────────────────────────────────────────────────────────────────


async def test_history_counts_earlier_da_notifications_for_the_child_and_the_household_domain_3(
    pool: asyncpg.Pool,
) -> None:
    """DOMAIN.md §3: repeat incidents are police DA notifications only, not other contacts."""
    child, sibling, family = child_id(), child_id(), f"F{uuid.uuid4().hex[:8]}"
    own = da_notification(child, at=MOMENT - timedelta(days=40))
    household = in_family(da_notification(sibling, at=MOMENT - timedelta(days=80)), family)
    general = contact(child, at=MOMENT - timedelta(days=100))
    too_old = da_notification(child, at=MOMENT - timedelta(days=400))
    later = da_notification(child, at=MOMENT + timedelta(days=1))
    for event in (own, household, general, too_old, later):
        await record_event(pool, event)
    history = await history_of(pool, query(child, family))
    assert sorted(history.incidents_at) == sorted(
        datetime.fromisoformat(e["payload"]["incident_at"]) for e in (own, household)
    )


async def test_history_without_a_family_ignores_other_children(pool: asyncpg.Pool) -> None:
    child, other = child_id(), child_id()
    await record_event(pool, da_notification(other, at=MOMENT - timedelta(days=3)))
    assert (await history_of(pool, query(child))).incidents_at == ()


async def test_history_leaves_out_the_contact_itself(pool: asyncpg.Pool) -> None:
    child = child_id()
    earlier = da_notification(child, at=MOMENT - timedelta(hours=1))
    await record_event(pool, earlier)
    q = HistoryQuery(UUID(earlier["event_id"]), child, None, MOMENT, MOMENT)
    assert (await history_of(pool, q)).incidents_at == ()


async def test_earlier_screening_results_of_general_contacts_are_not_incidents(
    pool: asyncpg.Pool,
) -> None:
    child = child_id()
    await PostgresScreeningStore(pool).record_triage(
        [triaged(contact(child, at=MOMENT - timedelta(days=2)))]
    )
    assert (await history_of(pool, query(child))).incidents_at == ()


async def test_earlier_screening_results_count_even_before_intake_commits(
    pool: asyncpg.Pool,
) -> None:
    child = child_id()
    earlier = da_notification(child, at=MOMENT - timedelta(days=2))
    await PostgresScreeningStore(pool).record_triage([triaged(earlier)])
    history = await history_of(pool, query(child))
    assert history.incidents_at == (datetime.fromisoformat(earlier["payload"]["incident_at"]),)


async def test_open_referral_routes_to_its_team_until_the_case_closes(pool: asyncpg.Pool) -> None:
    child = child_id()
    first = referral(child, MOMENT - timedelta(days=200), "Family Support North")
    await record_event(pool, first)
    await record_event(pool, closed(child, first, MOMENT - timedelta(days=100)))
    assert (await history_of(pool, query(child))).open_case_team is None
    second = referral(child, MOMENT - timedelta(days=20), "Safeguarding East")
    await record_event(pool, second)
    assert (await history_of(pool, query(child))).open_case_team == "Safeguarding East"
    # as of a moment before the second referral the child was not open
    before = query(child, at=MOMENT - timedelta(days=50))
    assert (await history_of(pool, before)).open_case_team is None


async def test_open_cp_plan_is_a_plan_with_no_later_end(pool: asyncpg.Pool) -> None:
    child = child_id()
    conference = icpc(child, datetime(2024, 11, 5, 10, 0, tzinfo=UTC))
    await record_event(pool, icpc(child, datetime(2024, 10, 1, 10, 0, tzinfo=UTC), plan=False))
    await record_event(pool, conference)
    assert (await history_of(pool, query(child))).open_cp_plan is True
    await record_event(pool, plan_ended(child, conference, MOMENT + timedelta(days=10)))
    assert (await history_of(pool, query(child))).open_cp_plan is True  # ended after the contact
    assert (
        await history_of(pool, query(child, at=MOMENT + timedelta(days=11)))
    ).open_cp_plan is False


async def test_a_batch_of_histories_is_answered_per_query(pool: asyncpg.Pool) -> None:
    a, b = child_id(), child_id()
    await record_event(pool, referral(a, MOMENT - timedelta(days=5), "Team A"))
    qa, qb = query(a), query(b)
    histories = await PostgresScreeningStore(pool).histories([qa, qb])
    assert histories[qa.event_id].open_case_team == "Team A"
    assert histories[qb.event_id] == TriageHistory()


# ── results, decisions, queue ────────────────────────────────────────────────────────────────


async def result_row(pool: asyncpg.Pool, event: dict[str, Any]) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT * FROM screening_results WHERE event_id = $1", UUID(event["event_id"])
    )
    return row


async def test_recording_a_result_is_idempotent_and_leaves_the_ledger_to_the_pipeline(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresScreeningStore(pool)
    event = da_notification(dash=15)
    t = triaged(event)
    assert await store.record_triage([t]) == 1
    assert await store.record_triage([t]) == 0
    claimed = await pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE event_id = $1", t.contact.event_id
    )
    assert claimed == 0  # the pipeline claims ids in the batch's transaction, not the adapter
    row = await result_row(pool, event)
    assert row is not None
    assert (row["priority"], row["route_kind"], row["decided_at"]) == ("red", "mash_queue", None)
    assert [r["rule"] for r in orjson.loads(row["reasons"])] == [r.rule for r in t.result.reasons]
    assert row["triaged_event_id"] == t.published.event_id


async def test_a_decision_is_stored_beside_the_result_in_either_order(pool: asyncpg.Pool) -> None:
    store = PostgresScreeningStore(pool)
    first, second = contact(), contact()
    decided = NOW + timedelta(hours=3)
    await store.record_triage([triaged(first)])
    await store.record_decisions([decision_for(first, decided, "information_and_advice")])
    await store.record_decisions([decision_for(second, decided, "early_help")])
    await store.record_triage([triaged(second)])
    for event, kind in ((first, "information_and_advice"), (second, "early_help")):
        row = await result_row(pool, event)
        assert row is not None
        assert (row["decided_at"], row["decision"], row["priority"]) == (decided, kind, "green")


async def test_an_older_decision_never_replaces_a_newer_one(pool: asyncpg.Pool) -> None:
    store = PostgresScreeningStore(pool)
    event = contact()
    await store.record_triage([triaged(event)])
    newer, older = NOW + timedelta(hours=5), NOW + timedelta(hours=1)
    await store.record_decisions([decision_for(event, newer, "early_help")])
    await store.record_decisions([decision_for(event, older, "no_further_action")])
    row = await result_row(pool, event)
    assert row is not None
    assert (row["decided_at"], row["decision"]) == (newer, "early_help")


async def test_the_queue_holds_undecided_results_red_first_then_by_deadline(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresScreeningStore(pool)
    family = f"F{uuid.uuid4().hex[:8]}"
    green = in_family(da_notification(dash=5, at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC)), family)
    red = in_family(da_notification(dash=15, at=datetime(2025, 3, 4, 2, 0, tzinfo=UTC)), family)
    amber = in_family(da_notification(dash=11, at=datetime(2025, 3, 5, 2, 0, tzinfo=UTC)), family)
    decided = in_family(da_notification(dash=15, at=datetime(2025, 3, 2, 2, 0, tzinfo=UTC)), family)
    await store.record_triage([triaged(e) for e in (green, red, amber, decided)])
    await store.record_decisions([decision_for(decided, NOW, "early_help")])
    rows = await pool.fetch(
        "SELECT event_id::text, priority FROM screening_queue WHERE family_id = $1", family
    )
    assert [(r["event_id"], r["priority"]) for r in rows] == [
        (red["event_id"], "red"),
        (amber["event_id"], "amber"),
        (green["event_id"], "green"),
    ]


async def test_a_decision_written_at_the_same_moment_as_its_triage_is_never_lost(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresScreeningStore(pool)
    events = [contact() for _ in range(60)]
    decided = NOW + timedelta(hours=1)
    for event in events:  # each pair races: two connections, two transactions
        await asyncio.gather(
            store.record_triage([triaged(event)]),
            store.record_decisions([decision_for(event, decided, "early_help")]),
        )
    undecided = await pool.fetchval(
        "SELECT count(*) FROM screening_results WHERE event_id = ANY($1::uuid[])"
        " AND decided_at IS NULL",
        [UUID(e["event_id"]) for e in events],
    )
    assert undecided == 0


async def test_a_decision_racing_its_triage_in_pipeline_transactions_is_never_lost(
    pool: asyncpg.Pool,
) -> None:
    ledger = PostgresLedger(pool)
    events = [contact() for _ in range(30)]
    decided = NOW + timedelta(hours=1)

    async def in_unit(consumer: str, write: Any) -> None:
        async with ledger.unit(consumer) as unit:  # the lock is held until the batch commits
            await write(PostgresScreeningStore(unit.connection))

    for event in events:
        await asyncio.gather(
            in_unit("test.triage", lambda s, e=event: s.record_triage([triaged(e)])),
            in_unit(
                "test.decisions",
                lambda s, e=event: s.record_decisions([decision_for(e, decided, "early_help")]),
            ),
        )
    undecided = await pool.fetchval(
        "SELECT count(*) FROM screening_results WHERE event_id = ANY($1::uuid[])"
        " AND decided_at IS NULL",
        [UUID(e["event_id"]) for e in events],
    )
    assert undecided == 0


async def test_results_of_a_batch_that_rolls_back_are_not_stored(pool: asyncpg.Pool) -> None:
    event = contact()

    async def failing_batch() -> None:
        async with PostgresLedger(pool).unit("test.triage") as unit:
            await PostgresScreeningStore(unit.connection).record_triage([triaged(event)])
            raise RuntimeError("a later record of the batch failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert await result_row(pool, event) is None
