"""The workforce contract's example payloads (``schemas.examples.workforce``), with fresh ids.

``WORKFORCE_PAYLOADS[(event_type, version)]`` is ``(agency, build)``; ``build()`` returns a new
payload, every optional field filled. Directory events (``DIRECTORY_TYPES``) carry the subject
``workforce``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from schemas.examples import fresh_ids
from schemas.examples.workforce import DIRECTORY_TYPES, PAYLOADS

__all__ = ["DIRECTORY_TYPES", "WORKFORCE_PAYLOADS"]

WORKFORCE_PAYLOADS: dict[tuple[str, int], tuple[str, Callable[[], dict[str, Any]]]] = {
    key: (agency, partial(build, fresh_ids)) for key, (agency, build) in PAYLOADS.items()
}
