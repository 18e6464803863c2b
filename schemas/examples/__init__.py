"""One valid example of every event of the contract, for partners (published) and for tests.

The JSON Schemas (``schemas.export``) and the partner API's OpenAPI document carry
``example(event_type, version)`` for every registered model, so a partner sees a whole event —
every field it would set, optional ones included — next to each schema. The same data backs the
contract tests (``tests/unit/contract_examples.py``), and a test validates every example against
its model and its generated JSON Schema, so an example cannot drift from the contract.

``example`` is deterministic by default (ids derived from the event type: the published files do
not change between runs); pass ``ids=fresh_ids`` for events of their own. ``EXAMPLES`` lists every
``(event_type, schema_version)`` with an example; a test holds it equal to the registry, so no
model can be added without one. Names, addresses and references are invented.
"""

from __future__ import annotations

import uuid
from itertools import count
from typing import Any

from schemas.examples import frontdoor, workforce
from schemas.examples.types import Builder, Ids, Key

__all__ = ["DIRECTORY_TYPES", "EXAMPLES", "OCCURRED_AT", "Ids", "example", "fixed_ids", "fresh_ids"]

PAYLOADS: dict[Key, tuple[str, Builder]] = {**frontdoor.PAYLOADS, **workforce.PAYLOADS}
"""Every example: the agency that publishes it and its payload builder."""

EXAMPLES: tuple[Key, ...] = tuple(sorted(PAYLOADS))
"""Every (event_type, schema_version) with an example."""

DIRECTORY_TYPES = workforce.DIRECTORY_TYPES
OCCURRED_AT = frontdoor.TUE
_NAMESPACE = uuid.UUID("6f2c1d7e-3b5a-4c8e-9a41-0d5e7b2f8c10")
_SYSTEMS = {"police": "niche-rms", "health": "systmone", "education": "sims", "ooh": "mosaic-edt"}
"""The kind of system each agency publishes from (``source.system``); social care's is Mosaic."""


def fixed_ids(seed: str) -> Ids:
    """The same sequence of UUIDs for the same seed (name-based, version 5)."""
    counter = count()
    return lambda: str(uuid.uuid5(_NAMESPACE, f"{seed}#{next(counter)}"))


def fresh_ids() -> str:
    """A random UUID."""
    return str(uuid.uuid4())


def example(event_type: str, version: int, *, ids: Ids | None = None) -> dict[str, Any]:
    """A valid event of this type and version as JSON-ready data, every optional field filled.

    ``KeyError`` for a pair without an example. Without ``ids`` the result is always the same.
    """
    agency, build = PAYLOADS[(event_type, version)]
    ids = ids or fixed_ids(f"{event_type}.v{version}")
    event_id = ids()
    child = "workforce" if event_type in DIRECTORY_TYPES else f"C{uuid.UUID(ids()).hex[:12]}"
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": OCCURRED_AT,
        "source": {
            "agency": agency,
            "system": _SYSTEMS.get(agency, "mosaic"),
            "ref": uuid.UUID(ids()).hex[:10],
        },
        "subject": {"child_id": child, "family_id": f"F-{uuid.UUID(ids()).hex[:8]}"},
        "correlation_id": ids(),
        "causation_id": ids(),
        "payload": build(ids),
    }
