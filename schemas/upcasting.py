"""Upcasters: pure functions that turn an old version of an event (as a dict) into the next one.

A breaking change to an event is a new ``schema_version`` plus one upcaster from the version
before it, registered with ``@upcaster("contact.received", from_version=1)``. An upcaster receives
the whole envelope as a dict (already validated against its own version's model when that model
is still registered) and returns a new dict; it must not mutate its argument. The registry sets
``schema_version`` to ``from_version + 1`` afterwards, so upcasters only reshape the payload.
Chains run in order until the latest registered version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event_type, from_version) → the function producing version from_version + 1."""


def upcaster(event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the upcaster of ``event_type`` from ``from_version`` to the next."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register
