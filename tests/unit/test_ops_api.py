"""The ops web app and /metrics over fake ports: what each route answers, and metric names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from services.common.apikeys import make_key
from services.common.authentication import Authenticator
from services.common.calendar import WorkingCalendar
from services.common.credentials import StoredCredential
from services.ops.api import OpsRuntime, create_app
from services.ops.domain.access import OpsRole
from services.ops.domain.boards import DeadLetter, ReasonCount, SlaCounts, SlaRow, SlaTotals
from services.ops.domain.lag import GroupObservation, LagBoard, Observation
from services.ops.domain.lanes import AgencyRefusals, LaneRefusal
from services.ops.domain.latency import PublishLedger
from services.ops.guard import OpsAccess
from services.ops.handlers import BoardRefresher, LagPoller
from services.ops.metrics import OpsMetrics
from tests.unit.test_ops_workforce import facts, lane_refusal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPIC = "frontdoor.contacts"
PUBLISHED = uuid.uuid4()
OPS_KEY = make_key("00000000000000a1", "unit-test-ops-secret-" + "x" * 16)
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class OpsKeys:
    """One ops credential in memory (the real store is tested in tests/integration)."""

    def __init__(self) -> None:
        self.row = StoredCredential(
            OPS_KEY.credential_id, OpsRole.OPS, "unit", CHEAP.hash(OPS_KEY.secret), T0
        )

    async def get(self, credential_id: str) -> StoredCredential[OpsRole] | None:
        return self.row if credential_id == self.row.credential_id else None

    async def insert(self, credential: StoredCredential[OpsRole]) -> None:
        raise NotImplementedError

    async def set_revoked(
        self, credential_id: str, revoked_at: datetime, replaced_by: str | None = None
    ) -> bool:
        raise NotImplementedError

    async def mark_used(self, credential_id: str, at: datetime) -> None:
        return None

    async def all(self) -> Sequence[StoredCredential[OpsRole]]:
        return [self.row]


def access() -> OpsAccess:
    store = OpsKeys()
    return OpsAccess(
        authenticator=Authenticator(store, ttl_seconds=60, clock=lambda: T0, monotonic=lambda: 0.0),
        store=store,
        session_secret=b"s" * 32,
        session_lifetime=timedelta(minutes=5),
        clock=lambda: T0,
    )


class FakeSource:
    def __init__(self, observations: Sequence[Observation]) -> None:
        self._observations = list(observations)

    async def observe(self) -> Observation:
        return self._observations.pop(0)


class FakeStore:
    async def sla_rows(self) -> list[SlaRow]:
        return [
            SlaRow(team="MASH", kind="screening_decision", counts=SlaCounts(open=4, overdue=1)),
            SlaRow(team="North", kind="assessment", counts=SlaCounts(open=2, due_today=1)),
        ]

    async def sla_totals(self) -> SlaTotals:
        return SlaTotals(
            open={"screening_decision": 4, "assessment": 2},
            overdue={"screening_decision": 1},
            breached={"screening_decision": 3},
        )

    async def deadletter_counts(self) -> list[ReasonCount]:
        return [ReasonCount(reason="validation", total=5, waiting=2)]

    async def newest_deadletters(self, limit: int) -> list[DeadLetter]:
        return [
            DeadLetter(
                id=7,
                failed_at=T0,
                reason="validation",
                exception_class="schemas.registry.UnknownEventType",
                exception_message="no event model for event_type=None",
                original_topic="partner.events",
                original_partition=3,
                original_offset=41,
                consumer_group="frontdoor-intake",
                replayed=False,
            )
        ][:limit]

    async def recorded_at(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        return {PUBLISHED: T0 + timedelta(milliseconds=300)} if PUBLISHED in event_ids else {}

    async def lane_refusal_counts(self) -> list[AgencyRefusals]:
        return [AgencyRefusals(agency="education", total=3, latest=T0)]

    async def newest_lane_refusals(self, limit: int) -> list[LaneRefusal]:
        return [lane_refusal(T0)][:limit]

    def __init__(self, workforce: Mapping[str, Any] | None = None) -> None:
        self.workforce = facts() if workforce is None else workforce

    async def workforce_facts(self, now: datetime, alerts: int) -> Mapping[str, Any] | None:
        return self.workforce


def observation(seconds: float, end: int, committed: dict[int, int]) -> Observation:
    return Observation(
        at=T0 + timedelta(seconds=seconds),
        log_ends={(TOPIC, 0): end, (TOPIC, 1): 10},
        log_starts={(TOPIC, 0): 0, (TOPIC, 1): 0},
        groups=(
            GroupObservation(
                group="frontdoor-screening",
                state="Stable",
                members=1,
                committed={(TOPIC, p): committed.get(p, -1) for p in (0, 1)},
            ),
        ),
    )


def build(*, polls: int, refresh: bool, store: FakeStore | None = None) -> FastAPI:
    poller = LagPoller(
        FakeSource(
            [
                observation(0, 100, {0: 100}),
                observation(2, 140, {0: 120}),
                observation(4, 180, {0: 120}),
            ]
        ),
        board=LagBoard(),
        interval=2.0,
    )
    ledger = PublishLedger()
    ledger.published(PUBLISHED, T0)
    metrics = OpsMetrics(lag=lambda: poller.report, boards=lambda: refresher.boards)
    refresher = BoardRefresher(
        store or FakeStore(),
        ledger=ledger,
        on_latency=metrics.observe_latency,
        clock=lambda: T0,
        calendar=WorkingCalendar.england_and_wales(2024, 2028),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for _ in range(polls):
            await poller.poll_once()
        if refresh:
            await refresher.refresh_once()
        app.state.ops = OpsRuntime(
            poller=poller,
            refresher=refresher,
            metrics=metrics,
            bootstrap_servers="127.0.0.1:9092",
            clock=lambda: T0 + timedelta(seconds=5),
            access=access(),
        )
        yield

    return create_app(lifespan)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {OPS_KEY.text}"}  # every route but /healthz asks
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ops", headers=headers
        ) as client:
            yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with serving(build(polls=3, refresh=True)) as c:
        yield c


async def test_lag_api_gives_each_group_its_partitions_with_lag_seconds_and_status(
    client: httpx.AsyncClient,
):
    doc = (await client.get("/api/lag")).json()
    assert doc["bootstrap_servers"] == "127.0.0.1:9092"
    assert doc["window_size"] == 10
    (group,) = doc["groups"]
    assert (group["group"], group["status"], group["lag_sum"]) == ("frontdoor-screening", "OK", 60)
    by_partition = {p["partition"]: p for p in group["partitions"]}
    assert by_partition[0]["lag"] == 60
    assert by_partition[0]["lag_seconds"] == pytest.approx(3.0)  # record 120 produced at 1 s
    assert by_partition[0]["status"] == "OK"
    assert by_partition[1]["lag"] == -1


async def test_throughput_api_gives_records_per_second_per_topic(client: httpx.AsyncClient):
    (topic,) = (await client.get("/api/throughput")).json()["topics"]
    assert topic["topic"] == TOPIC
    assert topic["records_per_second"] == pytest.approx(20.0)  # 100 → 180 in 4 s


async def test_sla_and_deadletter_apis_give_the_boards(client: httpx.AsyncClient):
    board = (await client.get("/api/sla")).json()["board"]
    assert board["total"]["open"] == 6
    assert [line["name"] for line in board["by_kind"]] == ["screening_decision", "assessment"]
    panel = (await client.get("/api/deadletters")).json()["panel"]
    assert (panel["total"], panel["waiting"]) == (5, 2)
    assert panel["newest"][0]["exception_class"] == "schemas.registry.UnknownEventType"


async def test_lanes_and_workforce_apis_give_their_panels(client: httpx.AsyncClient):
    lanes = (await client.get("/api/lanes")).json()["panel"]
    assert (lanes["incident"], lanes["total"]) == (True, 3)
    assert lanes["by_agency"][0] == {
        "agency": "education",
        "total": 3,
        "latest": T0.isoformat().replace("+00:00", "Z"),
    }
    (refusal,) = lanes["newest"]
    assert set(refusal) == {"id", "refused_at", "topic", "event_type", "claimed_agency", "via",
                            "speaker", "rules"}  # fmt: skip
    board = (await client.get("/api/workforce")).json()["board"]
    assert [a["kind"] for a in board["attention"]][:2] == [
        "nqsw_supervision_overdue",
        "nqsw_cp_not_co_worked",
    ]
    assert board["totals"]["unallocated"] == 2


async def test_metrics_use_the_conventional_names_with_the_reported_values(
    client: httpx.AsyncClient,
):
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    gtp = (("consumergroup", "frontdoor-screening"), ("partition", "0"), ("topic", TOPIC))
    assert values[("kafka_consumergroup_current_offset", gtp)] == 120
    assert values[("kafka_consumergroup_lag", gtp)] == 60
    assert values[("kafka_consumergroup_lag_seconds", gtp)] == pytest.approx(3.0)
    uncommitted = (("consumergroup", "frontdoor-screening"), ("partition", "1"), ("topic", TOPIC))
    assert values[("kafka_consumergroup_lag", uncommitted)] == -1
    assert ("kafka_consumergroup_lag_seconds", uncommitted) not in values
    group = (("consumergroup", "frontdoor-screening"),)
    assert not any(("group", "frontdoor-screening") in labels for _, labels in values)
    assert values[("kafka_consumergroup_lag_sum", group)] == 60
    assert values[("kafka_consumergroup_max_lag", group)] == 60
    assert values[("kafka_consumergroup_members", group)] == 1
    assert (
        values[("kafka_topic_partition_current_offset", (("partition", "0"), ("topic", TOPIC)))]
        == 180
    )
    assert (
        values[("kafka_topic_partition_oldest_offset", (("partition", "0"), ("topic", TOPIC)))] == 0
    )
    assert values[("frontdoor_consumergroup_status", (*group, ("status", "OK")))] == 1
    assert values[("frontdoor_consumergroup_status", (*group, ("status", "ERR")))] == 0
    assert values[("frontdoor_sla_open", (("kind", "screening_decision"),))] == 4
    assert values[("frontdoor_sla_overdue", (("kind", "assessment"),))] == 0
    assert values[("frontdoor_sla_breached_total", (("kind", "screening_decision"),))] == 3
    assert values[("frontdoor_deadletter_total", (("reason", "validation"),))] == 5
    assert values[("frontdoor_agency_not_permitted_total", (("agency", "education"),))] == 3
    assert values[("frontdoor_agency_not_permitted_total", (("agency", "police"),))] == 0
    assert values[("frontdoor_event_to_view_latency_seconds_count", ())] == 1
    assert values[("frontdoor_event_to_view_latency_seconds_bucket", (("le", "0.25"),))] == 0
    assert values[("frontdoor_event_to_view_latency_seconds_bucket", (("le", "0.5"),))] == 1


async def test_a_workforce_value_the_section_cannot_show_is_its_error_not_the_boards():
    broken = facts()
    broken["unallocated"][0]["referral_at"] = "2023-06-01T09:00:00+00:00"  # before the calendar
    broken["workers"][0]["fte"] = "lots"
    async with serving(build(polls=1, refresh=True, store=FakeStore(broken))) as c:
        doc = (await c.get("/api/workforce")).json()
        assert doc["board"] is None
        assert doc["error"].startswith("ValidationError: ")
        assert "lots" not in doc["error"]  # the field and the rule, never the value
        assert (await c.get("/api/sla")).json()["board"]["total"]["open"] == 6
    del broken["workers"][0]
    async with serving(build(polls=1, refresh=True, store=FakeStore(broken))) as c:
        doc = (await c.get("/api/workforce")).json()
        assert doc["error"].startswith("CalendarRangeError: 2023-06-02")  # day 1 of the wait


async def test_healthz_is_503_before_the_first_poll_and_200_once_current():
    async with serving(build(polls=0, refresh=False)) as cold:
        assert (await cold.get("/healthz")).status_code == 503
        assert (await cold.get("/api/lag")).json()["groups"] == []
        assert (await cold.get("/api/sla")).json()["board"] is None
    async with serving(build(polls=1, refresh=True)) as warm:
        response = await warm.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"


async def test_dashboard_page_refreshes_itself_from_the_json_api(client: httpx.AsyncClient):
    page = await client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    for path in ("/api/lag", "/api/throughput", "/api/sla", "/api/deadletters"):
        assert f'"{path}"' in page.text
    assert "setTimeout(refresh" in page.text
