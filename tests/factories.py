"""Test data: valid partner events as JSON-ready dicts, each with its own fresh ids.

Tests make their own ids instead of truncating tables, so every test can run against the same
database and broker as the others.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from schemas.registry import parse_event


def child_id() -> str:
    return f"C{uuid.uuid4().hex[:12]}"


def envelope(
    event_type: str,
    version: int,
    payload: dict[str, Any],
    *,
    child: str,
    agency: str = "social_care",
    at: datetime | None = None,
) -> dict[str, Any]:
    at = at or datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": at.isoformat(),
        "source": {"agency": agency, "system": "test-system", "ref": uuid.uuid4().hex[:10]},
        "subject": {"child_id": child, "family_id": None},
        "payload": payload,
    }
    parse_event(event)  # a factory that builds invalid events would make every test lie
    return event


def child_details(dob: date = date(2017, 5, 1)) -> dict[str, Any]:
    return {
        "given_name": "Alex",
        "family_name": "Example",
        "date_of_birth": dob.isoformat(),
        "sex": "F",
        "ethnicity": "WBRI",
    }


def contact(
    child: str | None = None, *, at: datetime | None = None, source: str = "2A"
) -> dict[str, Any]:
    at = at or datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    return envelope(
        "contact.received",
        2,
        {
            "contact_id": str(uuid.uuid4()),
            "contact_at": at.isoformat(),
            "referral_source": source,
            "concern": "neglect",
            "summary": "Teacher noticed the child is often hungry.",
            "child": child_details(),
        },
        child=child or child_id(),
        agency="education",
        at=at,
    )


def da_notification(
    child: str | None = None, *, at: datetime | None = None, dash: int = 5
) -> dict[str, Any]:
    at = at or datetime(2025, 3, 4, 2, 10, tzinfo=UTC)
    level = "high" if dash >= 14 else "medium" if dash >= 10 else "standard"
    return envelope(
        "police.da_notification",
        1,
        {
            "contact_id": str(uuid.uuid4()),
            "contact_at": (at + timedelta(hours=6)).isoformat(),
            "police_ref": f"SYP-{uuid.uuid4().hex[:8]}",
            "incident_at": at.isoformat(),
            "dash_yes_count": dash,
            "dash_risk_level": level,
            "high_risk_markers": [],
            "children_present": True,
            "child_injured": False,
            "household_children": [],
            "previous_incidents_12m": 0,
            "summary": "Verbal argument overheard by neighbours.",
            "child": child_details(),
        },
        child=child or child_id(),
        agency="police",
        at=at,
    )


def to_line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


async def put_in_history(conn: Any, event: dict[str, Any]) -> None:
    """Put ``event`` straight into ``events``, as intake accepted it (not through Kafka): what a
    rebuild reads (``conn``: an asyncpg connection)."""
    await conn.execute(
        "INSERT INTO events (event_id, event_type, schema_version, occurred_at, child_id, "
        "source_agency, content_hash, source_topic, source_partition, source_offset, body) "
        "VALUES ($1, $2, $3, $4::text::timestamptz, $5, $6, '\\x00', 'test', 0, -1, $7::jsonb)",
        uuid.UUID(event["event_id"]),
        event["event_type"],
        event["schema_version"],
        event["occurred_at"],
        event["subject"]["child_id"],
        event["source"]["agency"],
        orjson.dumps(event).decode(),
    )


def bench_module(name: str) -> Any:
    """``bench/<name>.py`` as a module (the suite runs the short form of what bench measures)."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", Path(__file__).resolve().parent.parent / "bench" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module
