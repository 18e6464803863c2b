"""Which ids an event names that must already be in the workforce directory, and the error.

Invariant: an id a workforce or casework event names (``payload.worker_id``, ``payload.team``
…) resolves to a team or worker the directory holds; an unknown one is refused with an error
naming the field and the rule (``known_team`` / ``known_worker``), never the value, and never
creates a team or worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from schemas.envelope import EventBase

Kind = Literal["team", "worker"]

_WORKER_FIELDS = (
    "worker_id",
    "from_worker_id",
    "co_worker_id",
    "supervisor_id",
    "manager_id",
    "auditor_id",
    "moderator_id",
)


class UnknownReferenceError(ValueError):
    """An event names a team or worker the directory does not hold."""

    def __init__(self, field: str, kind: Kind) -> None:
        self.field, self.kind = field, kind
        super().__init__(
            f"{field} names no {kind} in the workforce directory (rule: known_{kind}); "
            f"publish the {'team.recorded' if kind == 'team' else 'worker.joined'} first"
        )


def references(event: EventBase) -> Iterator[tuple[str, Kind, str]]:
    """(field path, kind, id) of every directory id ``event`` names."""
    payload: Any = event.payload
    et = event.event_type
    if et == "team.recorded":
        if payload.parent_team_id is not None:
            yield "payload.parent_team_id", "team", payload.parent_team_id
        return  # the manager may join after the team is recorded
    if et == "worker.joined":
        yield "payload.team_id", "team", payload.team_id
        return
    for name in ("team_id", "team"):
        value = getattr(payload, name, None)
        if isinstance(value, str):
            yield f"payload.{name}", "team", value
    for name in (*_WORKER_FIELDS, "worker"):
        value = getattr(payload, name, None)
        if isinstance(value, str):
            yield f"payload.{name}", "worker", value
    for i, action in enumerate(getattr(payload, "actions", ())):
        yield f"payload.actions[{i}].owner_id", "worker", action.owner_id
