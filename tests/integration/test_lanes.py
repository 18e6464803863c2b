"""Every agency in its own lane, through the real intake on the embedded broker and PostgreSQL.

The spoofing matrix generated from the role table (tests/lanes.py) is published as each case's
speaker would publish it over Kafka — on its own lane ``partner.events.<agency>`` — and, for the
shared topic, as ingress stamps it (``ingress.agency``) and unstamped. Then, once intake has
consumed every record: every allowed case is in ``events`` and routed; every forbidden one is a
``validation`` dead letter ``agency_not_permitted`` with an audit row in
``intake_lane_refusals``, and is in neither ``events`` nor the outbox of anything routed. Counts
per agency come from the audit table, as ops shows them. Both runtimes read every lane.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
import orjson
import pytest

from schemas.envelope import Agency
from schemas.roles import load_role_table
from schemas.topics import PARTNER_EVENTS, SPEAKER_HEADER, partner_lane
from services.common.kafka import new_producer
from services.common.settings import Endpoints
from tests.conftest import Workers, event_id_of, wait_until
from tests.factories import contact, to_line
from tests.lanes import Case, matrix

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def _publish(bootstrap: str, sends: list[tuple[str, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = new_producer(bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=orjson.loads(value)["subject"]["child_id"].encode(),
                                headers=headers or None)
            for topic, value, headers in sends
        ]  # fmt: skip
        for f in futures:
            await f
    finally:
        await producer.stop()


async def _state(dsn: str, ids: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        landed = {
            str(r["event_id"])
            for r in await conn.fetch(
                "SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])", ids
            )
        }
        refused = await conn.fetch(
            "SELECT event_id, via, speaker, claimed_agency, rules FROM intake_lane_refusals "
            "WHERE event_id = ANY($1::uuid[])",
            ids,
        )
        routed = {
            str(r["event_id"])
            for r in await conn.fetch(
                "SELECT event_id FROM outbox WHERE event_id = ANY($1::uuid[]) "
                "AND topic <> 'frontdoor.deadletter'",
                ids,
            )
        }
        # the session's dead letters hold other tests' hostile bytes: parse them here, not in SQL
        wanted = set(ids)
        letters = [
            {**dict(r), "event_id": event_id_of(r["record_value"])}
            for r in await conn.fetch(
                "SELECT record_value, reason, exception_class, exception_message "
                "FROM deadletters WHERE consumer_group = 'frontdoor-intake'"
            )
        ]
        letters = [r for r in letters if r["event_id"] in wanted]
    finally:
        await conn.close()
    return {"landed": landed, "refused": refused, "routed": routed, "letters": letters}


def _claiming(agency: str) -> dict[str, Any]:
    event = contact()
    event["source"]["agency"] = agency
    return event


@pytest.mark.parametrize("runtime", ["aiokafka", "faust"])
async def test_the_spoofing_matrix_through_the_real_intake(
    endpoints: Endpoints, workers: Workers, runtime: str
) -> None:
    cases: list[Case] = matrix(load_role_table())
    sends: list[tuple[str, bytes, list[tuple[str, bytes]]]] = [
        (partner_lane(c.speaker).name, to_line(c.event), []) for c in cases
    ]
    # the shared topic: an ingress stamp is a speaker, a bare record is not
    stamped, forged, bare = _claiming("health"), _claiming("police"), _claiming("police")
    sends += [
        (PARTNER_EVENTS.name, to_line(stamped), [(SPEAKER_HEADER, b"health")]),
        (PARTNER_EVENTS.name, to_line(forged), [(SPEAKER_HEADER, b"health")]),
        (PARTNER_EVENTS.name, to_line(bare), []),
    ]
    allowed = {c.event["event_id"] for c in cases if c.allowed} | {stamped["event_id"]}
    forbidden = {c.event["event_id"] for c in cases if not c.allowed}
    forbidden |= {forged["event_id"], bare["event_id"]}
    ids = sorted(allowed | forbidden)

    workers.start("intake", FRONTDOOR_RUNTIME=runtime, FRONTDOOR_INTAKE_SPEAKERS="lanes")
    workers.start("deadletter")
    await _publish(endpoints.bootstrap_servers, sends)

    async def settled() -> dict[str, Any] | None:
        state = await _state(endpoints.database_url, ids)
        done = len(state["landed"]) == len(allowed) and len(state["letters"]) >= len(forbidden)
        return state if done and len(state["refused"]) >= len(forbidden) else None

    state = await wait_until(settled, timeout=180, interval=1.0)
    assert isinstance(state, dict)
    assert state["landed"] == allowed
    assert state["routed"] >= allowed
    assert not state["routed"] & forbidden
    assert {str(r["event_id"]) for r in state["refused"]} == forbidden
    letters = {str(r["event_id"]): r for r in state["letters"]}
    assert set(letters) == forbidden
    for letter in letters.values():
        assert letter["reason"] == "validation"
        assert letter["exception_class"].endswith("AgencyNotPermittedError")
        assert letter["exception_message"].startswith("agency_not_permitted: ")
    by_id = {str(r["event_id"]): r for r in state["refused"]}
    assert by_id[forged["event_id"]]["via"] == "ingress"
    assert by_id[forged["event_id"]]["speaker"] == "health"
    assert by_id[bare["event_id"]]["via"] == "none"
    assert by_id[bare["event_id"]]["rules"] == ["no_trusted_speaker"]
    per_agency = Counter(r["claimed_agency"] for r in state["refused"])
    assert set(per_agency) <= {a.value for a in Agency}
    print(
        f"\n{runtime}: {len(cases)} matrix cases over {len(Agency)} lanes: "
        f"{len(allowed)} allowed landed, {len(forbidden)} forbidden refused; "
        f"refusals by claimed agency {dict(sorted(per_agency.items()))}"
    )
