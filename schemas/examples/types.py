"""The shapes the example modules share: a key, an id source and a payload builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Key = tuple[str, int]
"""``(event_type, schema_version)``."""

Ids = Callable[[], str]
"""Returns a new UUID as text each call."""

Builder = Callable[[Ids], dict[str, Any]]
"""Builds one payload, taking its ids from the source it is given."""
