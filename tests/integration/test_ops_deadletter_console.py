"""The ops dead-letter console on the real ops app over a real PostgreSQL and the real embedded
broker: a poisoned record (a child's name, date of birth, address, NHS number and a narrative in
it) refused by the contract, kept by the real dead-letter worker, opened with its value masked and
its reason shown; replayed through the console (the dead-letter service's one replay) back onto
its original topic, exactly that record, with an audit row naming the ops credential; and the
console's routes ops only (others 403, no credential 401)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from schemas.registry import parse_event_json
from services.common.deadletter import DeadLetterReason, Origin
from services.common.kafka import ensure_topics
from services.common.pipeline import dead_letter_row
from services.common.settings import Endpoints
from services.ops.domain.access import OpsRole
from tests.conftest import Workers, read_topic, wait_until
from tests.integration.test_deadletter import letter_id, produce, stored
from tests.integration.test_ops_auth import assert_problem, bearer, issue_ops_key, ops_app
from tests.unit.test_ops_deadletter_console import (
    ADDRESS,
    DOB,
    NAME,
    NHS,
    POISONED,
    POSTCODE,
    STORY,
    SURNAME,
)

pytestmark = pytest.mark.integration

SECRETS = (NAME, SURNAME, DOB, ADDRESS, POSTCODE, NHS, STORY)
ORIGINAL_HEADERS = (("event_type", b"contact.received"), ("trace", b"console-1"))


def poisoned_letter(topic: str) -> tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]]:
    """The dead letter the pipeline writes when the contract refuses the poisoned record."""
    value = orjson.dumps({**POISONED, "event_id": str(uuid.uuid4())})
    with pytest.raises(ValueError, match="payload") as refused:  # the contract's refusal
        parse_event_json(value)
    origin = Origin(topic, 0, 17, b"child-77", value, ORIGINAL_HEADERS)
    row = dead_letter_row(
        origin, DeadLetterReason.VALIDATION, refused.value, "frontdoor-intake", datetime.now(UTC)
    )
    return row.key, value, tuple(row.headers)


async def audits_for(dsn: str, ids: Sequence[int]) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT * FROM deadletter_replays WHERE letter_ids && $1::bigint[]", list(ids)
            )
        )
    finally:
        await conn.close()


async def test_a_letter_opens_masked_and_replays_exactly_its_record_for_ops_only(
    endpoints: Endpoints, workers: Workers
) -> None:
    topic = f"ops-console-{uuid.uuid4().hex[:8]}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, 1)])
    workers.start("deadletter")
    key, value, headers = poisoned_letter(topic)
    await produce(endpoints.bootstrap_servers, [(key, value, headers)])
    [row] = await wait_until(lambda: stored(endpoints.database_url, [letter_id(headers)]))
    assert NAME.encode() in bytes(row["record_value"])  # the table keeps it, to replay it
    keys = {role: await issue_ops_key(endpoints.database_url, role, "console") for role in OpsRole}
    path = f"/api/deadletters/{row['id']}"
    preview = f"/api/deadletters/replay?id={row['id']}"

    async with ops_app(endpoints) as (_, client):
        opened = await client.get(path, headers=bearer(keys[OpsRole.OPS]))
        assert opened.status_code == 200, opened.text
        for secret in SECRETS:
            assert secret not in opened.text, secret
        doc = opened.json()
        assert doc["reason"]["code"] == "validation"
        fields = {f["field"] for f in doc["reason"]["fields"]}
        assert fields, doc["reason"]
        assert all(DOB not in f["rule"] for f in doc["reason"]["fields"])
        assert (doc["origin"]["topic"], doc["origin"]["offset"]) == (topic, 17)
        assert doc["value"]["body"]["subject"] == {"child_id": "child-77"}
        assert "payload" in doc["value"]["masked"]
        assert {h["name"] for h in doc["headers"]} >= {"event_type", "trace", "dlq.reason"}

        for role in (OpsRole.MANAGER, OpsRole.ANALYST, OpsRole.OUT_OF_HOURS):
            assert_problem(
                await client.get(path, headers=bearer(keys[role])), 403, "role_not_permitted"
            )
            assert_problem(
                await client.get(preview, headers=bearer(keys[role])), 403, "role_not_permitted"
            )
            refused = await client.post(
                "/api/deadletters/replay",
                json={"ids": [row["id"]], "confirm": 1},
                headers=bearer(keys[role]),
            )
            assert_problem(refused, 403, "role_not_permitted")
        assert_problem(await client.get(path), 401, "missing_credentials")
        assert_problem(
            await client.post("/api/deadletters/replay", json={"ids": [row["id"]], "confirm": 1}),
            401,
            "missing_credentials",
        )
        assert await read_topic(endpoints.bootstrap_servers, topic, 1) == []  # nothing sent yet

        shown = (await client.get(preview, headers=bearer(keys[OpsRole.OPS]))).json()
        assert (shown["count"], shown["ids"]) == (1, [row["id"]])
        wrong = await client.post(
            "/api/deadletters/replay",
            json={"ids": [row["id"]], "confirm": 2},
            headers=bearer(keys[OpsRole.OPS]),
        )
        assert_problem(wrong, 409, "replay_count_changed")
        done = await client.post(
            "/api/deadletters/replay",
            json={"ids": [row["id"]], "confirm": 1},
            headers=bearer(keys[OpsRole.OPS]),
        )
        assert done.status_code == 200, done.text
        assert done.json()["replayed"] == 1
        again = await client.post(
            "/api/deadletters/replay",
            json={"ids": [row["id"]], "confirm": 1},
            headers=bearer(keys[OpsRole.OPS]),
        )
        assert_problem(again, 422, "replay_refused")  # already replayed: never sent twice

    records = await read_topic(endpoints.bootstrap_servers, topic, 1)
    assert [(r.key, r.value, tuple(r.headers)) for r in records] == [(key, value, ORIGINAL_HEADERS)]
    [audit] = await audits_for(endpoints.database_url, [row["id"]])
    ops_id = keys[OpsRole.OPS].split("_")[1]
    assert (audit["actor"], list(audit["letter_ids"])) == (f"ops:{ops_id}", [row["id"]])
    assert orjson.loads(audit["choice"]) == {"ids": [row["id"]]}
