"""The demo partner feed ``frontdoor dev`` runs: recent history, then live notifications.

On start, if the database holds no events yet, it publishes the last 30 days of a simulated
borough's partner traffic (``frontdoor simulate``), so screens and timers have something real to
show. Then, every few seconds, a new police domestic-abuse notification or contact "happens now",
with its DASH count and markers drawn at realistic rates, so a watcher sees the system move.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import structlog

from schemas.registry import parse_event
from services.cli.replay import publish_lines, read_lines
from services.common.settings import Endpoints

log = structlog.get_logger(__name__)

HISTORY_DAYS = 30
LIVE_INTERVAL_SECONDS = 4.0
ETHNICITIES = ("WBRI", "WBRI", "WBRI", "WBRI", "APKN", "MWBC", "BAFR", "WOTH", "AOTH")


def live_event(rng: random.Random, now: datetime) -> dict[str, Any]:
    """One contact or DA notification about a new child, happening now."""
    child_id = f"DEMO-{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}"
    dob = (now - timedelta(days=rng.randint(30, 17 * 365))).date()
    child = {
        "given_name": "Demo",
        "family_name": "Child",
        "date_of_birth": dob.isoformat(),
        "sex": rng.choice("MF"),
        "ethnicity": rng.choice(ETHNICITIES),
    }
    base = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "occurred_at": now.isoformat(),
        "subject": {"child_id": child_id, "family_id": f"F-{child_id}"},
    }
    if rng.random() < 0.6:
        dash = min(27, int(rng.expovariate(1 / 6)))
        level = "high" if dash >= 14 else "medium" if dash >= 10 else "standard"
        markers = rng.sample(
            [
                "non_fatal_strangulation",
                "threats_to_kill",
                "stalking",
                "coercive_control",
                "escalation",
                "pregnancy",
            ],
            k=rng.choice((0, 0, 0, 1, 2)),
        )
        event = {
            **base,
            "event_type": "police.da_notification",
            "schema_version": 1,
            "source": {"agency": "police", "system": "demo-niche", "ref": uuid.uuid4().hex[:8]},
            "payload": {
                "contact_id": str(uuid.uuid4()),
                "contact_at": now.isoformat(),
                "police_ref": f"DEMO-{rng.randint(10000, 99999)}",
                "incident_at": (now - timedelta(hours=rng.randint(1, 10))).isoformat(),
                "dash_yes_count": dash,
                "dash_risk_level": level,
                "high_risk_markers": markers,
                "children_present": rng.random() < 0.7,
                "child_injured": rng.random() < 0.05,
                "household_children": [],
                "previous_incidents_12m": rng.choice((0, 0, 1, 2, 3, 4)),
                "summary": "Demo incident.",
                "child": child,
            },
        }
    else:
        event = {
            **base,
            "event_type": "contact.received",
            "schema_version": 2,
            "source": {"agency": "education", "system": "demo-mis", "ref": uuid.uuid4().hex[:8]},
            "payload": {
                "contact_id": str(uuid.uuid4()),
                "contact_at": now.isoformat(),
                "referral_source": rng.choice(("2A", "3A", "3B", "1A", "6")),
                "concern": rng.choice(("neglect", "emotional_abuse", "physical_abuse")),
                "summary": "Demo concern.",
                "child": child,
            },
        }
    parse_event(event)
    return event


async def _history_needed(dsn: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM events)")
    finally:
        await conn.close()


async def run_demo_feed(endpoints: Endpoints, *, seed: int = 2024) -> None:
    from services.simulate.cli import write_feed

    if await _history_needed(endpoints.database_url):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "history.jsonl"
            count = write_feed(
                path,
                days=HISTORY_DAYS,
                seed=seed,
                start=datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS),
            )
            now = datetime.now(UTC)
            lines = [
                line
                for line in read_lines(path)
                if datetime.fromisoformat(orjson.loads(line)["occurred_at"]) <= now
            ]
            await publish_lines(endpoints.bootstrap_servers, lines)
            log.info("demo_history_published", events=len(lines), generated=count)
    rng = random.Random(seed + int(datetime.now(UTC).timestamp()))
    while True:
        event = live_event(rng, datetime.now(UTC))
        await publish_lines(endpoints.bootstrap_servers, [orjson.dumps(event)])
        log.info("demo_event_published", event_id=event["event_id"], event_type=event["event_type"])
        await asyncio.sleep(LIVE_INTERVAL_SECONDS)
